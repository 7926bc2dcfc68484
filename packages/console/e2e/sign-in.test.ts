/**
 * Single sign-on in a real browser: the login page shows a button per OpenID Connect provider,
 * the button goes through a real provider (oidc-provider on loopback, its own login form) and back
 * to the console signed in; a refused sign-in comes back to the login page with the reason; with
 * KEYFOB_LOCAL_LOGIN=off the password form is gone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort, killAllServers } from '../../server/test/helpers/server-process.js';
import { startIdp, type TestIdp } from '../../server/test/helpers/oidc-idp.js';
import { HAVE_CHROMIUM, audit, closeQuietly, diagnose, launchBrowser, newContext, screenshot, startKeyfob, watchPage, type Keyfob, type PageWatch } from './support/harness.js';

const STEP = 90_000;
const CLIENT = { client_id: 'keyfob-console', client_secret: 'console-client-secret-0123456789' };

describe.skipIf(!HAVE_CHROMIUM)('console e2e: single sign-on', () => {
  let idp: TestIdp;
  let keyfob: Keyfob;
  let ssoOnly: Keyfob | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  const a11y: string[] = [];

  /** keyfob on a port chosen first: the provider must know keyfob's callback before either starts. */
  async function keyfobWithProvider(env: Record<string, string> = {}): Promise<{ port: number; baseUrl: string; env: Record<string, string> }> {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    return {
      port,
      baseUrl,
      env: {
        KEYFOB_BASE_URL: baseUrl,
        KEYFOB_OIDC_CLIENT_ID: CLIENT.client_id,
        KEYFOB_OIDC_CLIENT_SECRET: CLIENT.client_secret,
        KEYFOB_OIDC_LABEL: 'Example SSO',
        ...env,
      },
    };
  }

  beforeAll(async () => {
    const main = await keyfobWithProvider({ KEYFOB_ADMIN_USERNAME: 'root', KEYFOB_ADMIN_PASSWORD: 'admin password 0123' });
    const second = await keyfobWithProvider({ KEYFOB_LOCAL_LOGIN: 'off' });
    idp = await startIdp([{ ...CLIENT, redirect_uris: [main, second].map((k) => `${k.baseUrl}/api/v1/auth/oidc/default/callback`) }]);
    idp.accounts.set('grace', { preferred_username: 'grace', name: 'Grace Hopper', email: 'grace@example.com', email_verified: true });
    keyfob = await startKeyfob({ ...main.env, KEYFOB_OIDC_ISSUER: idp.issuer }, { port: main.port });
    ssoOnly = await startKeyfob({ ...second.env, KEYFOB_OIDC_ISSUER: idp.issuer }, { port: second.port });
    browser = await launchBrowser();
    context = await newContext(browser, keyfob.baseUrl);
    page = await context.newPage();
    watch = await watchPage(page);
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(`[${ctx.task.name}] failed:\n${await diagnose(page, keyfob, watch)}`);
  });

  afterAll(async () => {
    if (a11y.length > 0) console.error(`axe-core problems:\n${a11y.join('\n\n')}`);
    await closeQuietly(context, browser);
    await keyfob?.stop();
    await ssoOnly?.stop();
    await killAllServers();
    await idp?.stop();
  });

  it('shows a button per provider above the password form, accessible', { timeout: STEP }, async () => {
    await page.goto('/login');
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    const button = page.getByRole('link', { name: 'Sign in with Example SSO' });
    await button.waitFor();
    expect(await button.getAttribute('href')).toBe(`${keyfob.baseUrl}/api/v1/auth/oidc/default/start`);
    await page.getByLabel('Username').waitFor();
    const before = a11y.length;
    await audit(page, 'login with single sign-on', a11y);
    expect(a11y.slice(before)).toEqual([]);
    await screenshot(page, 'sign-in');
  });

  it('signs in through the provider and lands on the page that was asked for', { timeout: STEP }, async () => {
    await page.goto('/tokens/new?name=from-sso');
    await expect.poll(() => new URL(page.url()).pathname).toBe('/login');
    await page.getByRole('link', { name: 'Sign in with Example SSO' }).click();
    // The provider's own login form (oidc-provider's development interaction).
    await page.waitForURL((url) => url.origin === idp.issuer);
    await page.locator('input[name="login"]').fill('grace');
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').click();
    await page.getByRole('heading', { level: 1, name: 'New personal access token' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tokens/new');
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('from-sso');
    const session = (await context.cookies()).find((c) => c.name === 'keyfob_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect((await context.cookies()).find((c) => c.name === 'keyfob_oidc_flow' && c.value !== '')).toBeUndefined();
    const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
    expect(me).toMatchObject({ username: 'grace', displayName: 'Grace Hopper', role: 'user' });
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  });

  it('shows why a sign-in was refused', { timeout: STEP }, async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    // A callback this browser never started (no flow cookie): keyfob refuses and says so.
    await page.goto('/api/v1/auth/oidc/default/callback?code=forged&state=forged');
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    expect(new URL(page.url()).search).toBe('?error=oidc_state_mismatch');
    expect(await page.getByRole('alert').innerText()).toMatch(/could not be matched to this browser/);
    expect((await context.cookies()).filter((c) => c.name === 'keyfob_session' && c.value !== '')).toEqual([]);
  });

  it('hides the password form when password sign-in is off', { timeout: STEP }, async () => {
    const other = await browser.newPage({ baseURL: ssoOnly!.baseUrl });
    try {
      // No user yet: first-run setup still comes first (it is how the first admin is made).
      await other.goto('/login');
      await other.getByRole('heading', { level: 1, name: 'Welcome to keyfob' }).waitFor();
      const setup = await fetch(`${ssoOnly!.baseUrl}/api/v1/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'root', password: 'admin password 0123' }), signal: AbortSignal.timeout(10_000) });
      expect(setup.status).toBe(201);
      await other.goto('/login');
      await other.getByRole('link', { name: 'Sign in with Example SSO' }).waitFor();
      expect(await other.getByLabel('Username').count()).toBe(0);
      expect(await other.getByText('or with your keyfob password').count()).toBe(0);
    } finally {
      await other.close();
    }
  });
});
