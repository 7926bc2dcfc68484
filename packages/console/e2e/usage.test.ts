/**
 * The admin usage page in a real browser against a real keyfob process: tokens used over the API
 * are ranked by their uses once the recorder has flushed; unused tokens are listed oldest first
 * with the age filter; a row leads to the token's admin page; revoking a row stops the token.
 * axe-core on the page and the token page in light and dark at 1280 and 375 px.
 *
 * The tests run in order and share one keyfob, one browser and the admin's page.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { killAllServers } from '../../server/test/helpers/server-process.js';
import { HAVE_CHROMIUM, audit, closeQuietly, diagnose, isFocused, launchBrowser, newContext, screenshot, selfStatus, startKeyfob, watchPage, type InPage, type Keyfob, type PageWatch } from './support/harness.js';

const ADMIN = { username: 'root', password: 'admin password 0123' };
const DEV = { username: 'dev', password: 'dev password 0123' };
const STEP = 90_000;

interface ApiSession {
  readonly cookie: string;
  readonly csrf: string;
}

/** JSON over the API from Node, as a signed-in user (the fixtures; the browser is what is tested). */
async function call<T>(baseUrl: string, method: string, path: string, session?: ApiSession, body?: unknown): Promise<T> {
  const headers: Record<string, string> = session ? { cookie: session.cookie, 'x-csrf-token': session.csrf } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}/api/v1${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function signIn(baseUrl: string, username: string, password: string): Promise<ApiSession> {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('keyfob_session='))?.split(';')[0];
  if (!res.ok || !cookie) throw new Error(`sign-in of ${username} failed: ${res.status}`);
  return { cookie, csrf: body.csrfToken };
}

describe.skipIf(!HAVE_CHROMIUM)('console e2e: token usage (admin)', () => {
  let keyfob: Keyfob;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  const a11y: string[] = [];
  const tokens: Record<string, { id: string; token: string }> = {};

  async function expectAccessible(label: string): Promise<void> {
    const before = a11y.length;
    await audit(page, label, a11y);
    expect(a11y.slice(before), `axe-core, ${label}:\n${a11y.slice(before).join('\n')}`).toEqual([]);
  }

  const section = (name: string) => page.getByRole('region', { name });
  const rowsOf = (table: Locator) => table.locator('tbody tr');
  /** The token names of a table's rows, in order. */
  const names = (table: Locator) => rowsOf(table).locator('td a').evaluateAll((links) => links.map((a: InPage) => String(a.firstChild.textContent)));

  beforeAll(async () => {
    keyfob = await startKeyfob({ KEYFOB_ADMIN_USERNAME: ADMIN.username, KEYFOB_ADMIN_PASSWORD: ADMIN.password, KEYFOB_USAGE_FLUSH_MS: '200' });
    const admin = await signIn(keyfob.baseUrl, ADMIN.username, ADMIN.password);
    await call(keyfob.baseUrl, 'POST', '/admin/users', admin, { ...DEV, role: 'user' });
    const dev = await signIn(keyfob.baseUrl, DEV.username, DEV.password);
    for (const name of ['deploy', 'backup', 'forgotten', 'spare']) {
      const created = await call<{ token: string; pat: { id: string } }>(keyfob.baseUrl, 'POST', '/me/tokens', dev, { name, scopes: ['tokens:read'], expiresInDays: 30 });
      tokens[name] = { id: created.pat.id, token: created.token };
    }
    for (const [name, times] of [['deploy', 5], ['backup', 2]] as const) {
      for (let i = 0; i < times; i++) expect((await selfStatus(keyfob.baseUrl, tokens[name]!.token)).status).toBe(200);
    }
    // Uses are written behind: wait until the recorder has flushed them.
    const flushed = async () => (await call<{ items: unknown[] }>(keyfob.baseUrl, 'GET', '/admin/usage/most-used?days=1', admin)).items.length === 2;
    for (const deadline = Date.now() + 10_000; !(await flushed()); ) {
      if (Date.now() > deadline) throw new Error('the uses were not flushed within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }

    browser = await launchBrowser();
    context = await newContext(browser, keyfob.baseUrl);
    page = await context.newPage();
    watch = await watchPage(page);
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && !ctx.task.fails) console.error(`[${ctx.task.name}] failed:\n${await diagnose(page, keyfob, watch)}`);
  });

  afterAll(async () => {
    if (a11y.length > 0) console.error(`axe-core problems:\n${a11y.join('\n\n')}`);
    await closeQuietly(context, browser);
    await keyfob?.stop();
    await killAllServers();
  });

  it('the admin navigation leads to the usage page, which ranks tokens by their uses', { timeout: STEP }, async () => {
    await page.goto('/admin/users');
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Usage', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Token usage' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/admin/usage');

    const mostUsed = section('Most used').getByRole('table');
    await mostUsed.waitFor();
    expect(await names(mostUsed)).toEqual(['deploy', 'backup']);
    const first = await rowsOf(mostUsed).first().locator('td').allInnerTexts();
    expect(first.slice(0, 5).map((s) => s.trim())).toEqual(['1', expect.stringContaining('deploy'), 'dev', '5', '0']);

    // The window is in the URL, so a reload or a shared link keeps it.
    await section('Most used').getByLabel('Window', { exact: true }).selectOption('1');
    await expect.poll(() => new URL(page.url()).searchParams.get('days')).toBe('1');
    await expect.poll(() => names(mostUsed)).toEqual(['deploy', 'backup']);
    await page.reload();
    await mostUsed.waitFor();
    expect(await section('Most used').getByLabel('Window', { exact: true }).inputValue()).toBe('1');
  });

  it('lists tokens nobody used, by age; each row leads to the token', { timeout: STEP }, async () => {
    const unused = section('Not used');
    // Minted a moment ago: not yet a week old, so not a candidate by default.
    await unused.getByText(/No active token created more than 7 days ago is unused/).waitFor();
    await unused.getByLabel('Created', { exact: true }).selectOption('0');
    const table = unused.getByRole('table');
    await table.waitFor();
    expect(await names(table)).toEqual(['forgotten', 'spare']);
    await expectAccessible('admin: token usage');
    await screenshot(page, 'admin-usage');

    await table.getByRole('link', { name: 'forgotten of dev' }).click();
    await page.getByRole('heading', { level: 1, name: 'forgotten' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/admin/tokens/${tokens['forgotten']!.id}`);
    await page.getByRole('region', { name: 'Details' }).getByText('dev', { exact: true }).waitFor();
    await page.getByRole('img', { name: /Uses per day over the last 30 days: 0 in all/ }).waitFor();
    await expectAccessible('admin: one token');
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: 'Token usage' }).waitFor();
  });

  it('revokes a row after a confirmation: the token stops working and leaves the list', { timeout: STEP }, async () => {
    const table = section('Not used').getByRole('table');
    await expect.poll(() => names(table)).toEqual(['forgotten', 'spare']);
    await table.getByRole('button', { name: 'Revoke token spare of dev' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke this token?' });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('spare');
    await dialog.getByRole('button', { name: 'Revoke token', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('status').filter({ hasText: 'Token “spare” of dev was revoked.' }).waitFor();
    expect(await names(table)).toEqual(['forgotten']);
    // The row and its button are gone: focus goes back to the section's heading, not to the page.
    await expect.poll(() => isFocused(page.getByRole('heading', { level: 2, name: 'Not used' }))).toBe(true);
    expect((await selfStatus(keyfob.baseUrl, tokens['spare']!.token)).status).toBe(401);
    // The most used list holds active tokens only: revoking one there takes it off too.
    const mostUsed = section('Most used').getByRole('table');
    await mostUsed.getByRole('button', { name: 'Revoke token backup of dev' }).click();
    await dialog.getByRole('button', { name: 'Revoke token', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => names(mostUsed)).toEqual(['deploy']);
    await expect.poll(() => isFocused(page.getByRole('heading', { level: 2, name: 'Most used' }))).toBe(true);
    expect((await selfStatus(keyfob.baseUrl, tokens['backup']!.token)).status).toBe(401);
  });

  it('no CSP violation, no page error', { timeout: STEP }, async () => {
    expect(watch.cspViolations, watch.cspViolations.join('\n')).toEqual([]);
    expect(watch.pageErrors, watch.pageErrors.join('\n')).toEqual([]);
    expect(a11y, a11y.join('\n\n')).toEqual([]);
  });
});
