/**
 * The console's token pages in a real browser against a real keyfob process (issue 4):
 * setup → sign out / sign in → create a token → copy it → use it → rename → rotate (keyboard,
 * focus) → revoke; the list's tabs and search; pre-fill from the URL; an expired session; and,
 * on every page visited, axe-core in light and dark at 375 and 1280 px wide, no CSP violation, no
 * token or session material in web storage.
 *
 * The tests of this file run in order and share one keyfob, one browser and one page: each picks
 * up where the previous one stopped, like a person using the console.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Response as PwResponse } from 'playwright-core';
import { killAllServers } from '../../server/test/helpers/server-process.js';
import {
  HAVE_CHROMIUM,
  audit,
  diagnose,
  documentCookie,
  focusInfo,
  isFocused,
  isModal,
  optionValues,
  readClipboard,
  writeClipboard,
  closeQuietly,
  launchBrowser,
  newContext,
  screenshot,
  selfStatus,
  startKeyfob,
  watchPage,
  webStorageDump,
  type Keyfob,
  type PageWatch,
} from './support/harness.js';

const ADMIN = { username: 'admin', password: 'correct horse battery staple' };
const TOKEN_SHAPE = /^kf_pat_[0-9A-Za-z]{46}$/;
const STEP = 90_000;

describe.skipIf(!HAVE_CHROMIUM)('console e2e: access tokens', () => {
  let keyfob: Keyfob;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  /** axe problems of every page, reported together by the last test and checked page by page. */
  const a11y: string[] = [];
  /** Every secret the flow saw: the tokens and the CSRF tokens of the sessions. */
  const secrets = { tokens: [] as string[], csrf: new Set<string>() };
  const flow = { firstToken: '', firstId: '', rotatedToken: '', rotatedId: '' };

  /** Audits the page now and fails the current test if this page has a serious problem. */
  async function expectAccessible(label: string, options?: Parameters<typeof audit>[3]): Promise<void> {
    const before = a11y.length;
    await audit(page, label, a11y, options);
    expect(a11y.slice(before), `axe-core, ${label}:\n${a11y.slice(before).join('\n')}`).toEqual([]);
  }

  async function captureCsrf(response: PwResponse): Promise<void> {
    if (!/\/api\/v1\/(setup|auth\/login|auth\/session)$/.test(new URL(response.url()).pathname) || response.request().method() === 'OPTIONS') return;
    try {
      const body = (await response.json()) as { csrfToken?: string };
      if (body.csrfToken) secrets.csrf.add(body.csrfToken);
    } catch {
      // not JSON (GET /setup status, errors)
    }
  }

  beforeAll(async () => {
    keyfob = await startKeyfob();
    browser = await launchBrowser();
    context = await newContext(browser, keyfob.baseUrl);
    page = await context.newPage();
    watch = await watchPage(page);
    page.on('response', (r) => void captureCsrf(r));
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

  it('serves the console with a CSP that allows only self', { timeout: STEP }, async () => {
    const res = await fetch(`${keyfob.baseUrl}/`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!, values]));
    expect(directives.get('default-src'), csp).toEqual(["'self'"]);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    for (const [name, values] of directives) {
      for (const v of values) expect(["'self'", "'none'", 'data:'], `${name} ${v} in ${csp}`).toContain(v);
    }
    await res.body?.cancel();
  });

  it('first run: the setup page creates the admin and signs in; the empty state explains PATs', { timeout: STEP }, async () => {
    const response = await page.goto('/');
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
    await expect.poll(() => new URL(page.url()).pathname).toBe('/setup');
    await page.getByRole('heading', { level: 1, name: 'Welcome to keyfob' }).waitFor();
    await expectAccessible('setup');

    // A too-short password: the API's message appears beside the password field.
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create admin account' }).click();
    const password = page.getByLabel('Password');
    await expect.poll(() => password.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await password.getAttribute('aria-describedby')) ?? '';
    const errorText = await page.locator(describedBy.split(' ').map((id) => `[id="${id}"]`).join(', ')).allInnerTexts();
    expect(errorText.join(' ')).toMatch(/password/i);

    await password.fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create admin account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tokens');

    const empty = page.getByRole('region', { name: 'No tokens yet' });
    await empty.waitFor();
    expect(await empty.innerText()).toContain(`curl -H "Authorization: Bearer $KEYFOB_TOKEN" ${keyfob.baseUrl}/api/v1/tokens/self`);
    await expectAccessible('tokens, empty state');
  });

  it('signs out, and signs in again on the login page', { timeout: STEP }, async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    // A deliberate sign-out is not an expired session.
    expect(await page.getByText('Your session has expired').count()).toBe(0);
    expect((await context.cookies()).filter((c) => c.name === 'keyfob_session' && c.value !== '')).toEqual([]);
    await expectAccessible('login');

    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').innerText()).not.toBe('');
    expect(new URL(page.url()).pathname).toBe('/login');

    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tokens');
    const session = (await context.cookies()).find((c) => c.name === 'keyfob_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Lax');
  });

  it('creates a token: name, a scope, an expiry preset; API errors sit beside their field', { timeout: STEP }, async () => {
    await page.getByRole('link', { name: 'New token' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'New personal access token' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tokens/new');
    await page.getByRole('checkbox', { name: /tokens:read/ }).waitFor();
    await expectAccessible('new token');

    // Submitting without a name: the error is announced on the Name field, not as a banner.
    const name = page.getByLabel('Name', { exact: true });
    await page.getByRole('button', { name: 'Create token' }).click();
    await expect.poll(() => name.getAttribute('aria-invalid')).toBe('true');
    const errorId = ((await name.getAttribute('aria-describedby')) ?? '').split(' ').find((id) => id.endsWith('-error'));
    expect(errorId, 'the Name field is described by its error').toBeTruthy();
    expect(await page.locator(`[id="${errorId}"]`).innerText()).toMatch(/name/i);

    await name.fill('deploy from CI');
    await page.getByLabel('Description (optional)').fill('Pushes releases from the CI pipeline');
    const expiry = page.getByLabel('Expiration', { exact: true });
    const presets = await optionValues(expiry);
    expect(presets).toEqual(expect.arrayContaining(['7', '30', '90', '365', 'custom']));
    await expiry.selectOption('30');
    // The hint shows the resulting date (the page's own clock, UTC, en-US).
    const expected = [Date.now(), Date.now() + 60_000].map((t) => new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' }).format(t + 30 * 86_400_000));
    const hint = await page.getByText(/The token will expire on/).innerText();
    expect(expected.some((d) => hint.includes(d)), `${hint} names ${expected[0]}`).toBe(true);

    await page.getByRole('checkbox', { name: /tokens:read/ }).check();
    expect(await page.getByRole('checkbox', { name: /tokens:write/ }).isChecked()).toBe(false);
    await screenshot(page, 'new-token');

    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { level: 1, name: 'Token created' }).waitFor();
  });

  it('shows the token once, copies it to the clipboard, and the token works against /api/v1/tokens/self', { timeout: STEP }, async () => {
    const shown = page.getByRole('region', { name: 'Your new token' });
    await shown.waitFor();
    const token = (await shown.getByLabel('Token', { exact: true }).innerText()).trim();
    expect(token).toMatch(TOKEN_SHAPE);
    secrets.tokens.push(token);
    flow.firstToken = token;

    const text = await shown.innerText();
    expect(text).toMatch(/will not be shown again/i);
    expect(text).toContain(`curl -H "Authorization: Bearer ${token}" ${keyfob.baseUrl}/api/v1/tokens/self`);
    expect(text).toContain(`export KEYFOB_TOKEN=${token}`);
    await expectAccessible('shown once');
    await screenshot(page, 'token-shown-once');

    await writeClipboard(page, 'not the token');
    await shown.getByRole('button', { name: 'Copy token' }).click();
    await shown.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await readClipboard(page)).toBe(token);

    const self = await selfStatus(keyfob.baseUrl, token);
    expect(self.status, JSON.stringify(self.body)).toBe(200);
    expect(self.body).toMatchObject({ name: 'deploy from CI', scopes: ['tokens:read'], description: 'Pushes releases from the CI pipeline' });
    flow.firstId = (self.body as { id: string }).id;
  });

  it('renames the token on its detail page', { timeout: STEP }, async () => {
    await page.getByRole('link', { name: 'Done' }).click();
    await page.getByRole('heading', { level: 1, name: 'deploy from CI' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/tokens/${flow.firstId}`);
    const details = page.getByRole('region', { name: 'Details' });
    const hint = ((await selfStatus(keyfob.baseUrl, flow.firstToken)).body as { displayHint: string }).displayHint;
    expect(hint.startsWith('kf_pat_')).toBe(true);
    expect(await details.innerText()).toContain(hint);
    expect(await details.getByRole('list', { name: 'Scopes' }).innerText()).toContain('tokens:read');
    // The use of the token a step earlier is charted (written behind: it may still be on its way).
    const usage = page.getByRole('region', { name: 'Use over the last 30 days' });
    expect(await usage.getByRole('img').getAttribute('aria-label')).toMatch(/^Uses per day over the last 30 days: \d+ in all/);
    expect(await usage.getByRole('table', { name: 'Uses per day' }).getByRole('row').count()).toBe(31);
    await usage.getByRole('heading', { name: 'Recent addresses' }).waitFor();
    await expectAccessible('token detail');
    await screenshot(page, 'token-detail');

    const edit = page.getByRole('region', { name: 'Name and description' });
    await edit.getByLabel('Name', { exact: true }).fill('deploy from GitHub Actions');
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.getByText('Saved.').waitFor();
    await page.getByRole('heading', { level: 1, name: 'deploy from GitHub Actions' }).waitFor();

    const self = await selfStatus(keyfob.baseUrl, flow.firstToken);
    expect(self.status).toBe(200);
    expect(self.body).toMatchObject({ name: 'deploy from GitHub Actions' });
  });

  it('rotate asks first: the dialog holds focus, Escape cancels and focus returns to the button', { timeout: STEP }, async () => {
    const opener = page.getByRole('button', { name: 'Regenerate' });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Regenerate this token?' });
    await dialog.waitFor();
    expect(await isModal(dialog)).toBe(true);
    // Focus starts inside the dialog, on the safe choice.
    expect(await focusInfo(page)).toMatchObject({ where: 'dialog', text: 'Cancel' });
    await expectAccessible('rotate dialog', { widths: [1280, 375] });

    // Tab and Shift+Tab never reach the page behind the modal dialog: every focused element is
    // in the dialog (the native modal <dialog> may hand focus to the browser's own UI between
    // rounds, where nothing in the document is focused), and both buttons come round again.
    const seen: string[] = [];
    for (const key of ['Tab', 'Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
      await page.keyboard.press(key);
      const focus = await focusInfo(page);
      seen.push(focus.where === 'dialog' ? `dialog:${focus.text}` : focus.where === 'page' ? `PAGE:${focus.html}` : focus.where);
    }
    expect(seen.filter((s) => s.startsWith('PAGE:')), seen.join(' | ')).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining(['dialog:Cancel', 'dialog:Regenerate']));

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await isFocused(opener)).toBe(true);
    // Nothing was rotated.
    expect((await selfStatus(keyfob.baseUrl, flow.firstToken)).status).toBe(200);
  });

  it('rotates with the keyboard: the new secret is shown once and works, the old one gets 401', { timeout: STEP }, async () => {
    expect(await isFocused(page.getByRole('button', { name: 'Regenerate' }))).toBe(true);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Regenerate this token?' });
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    expect(await focusInfo(page)).toMatchObject({ where: 'dialog', text: 'Regenerate' });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Token regenerated' }).waitFor();

    const shown = page.getByRole('region', { name: 'Your new token' });
    const token = (await shown.getByLabel('Token', { exact: true }).innerText()).trim();
    expect(token).toMatch(TOKEN_SHAPE);
    expect(token).not.toBe(flow.firstToken);
    secrets.tokens.push(token);
    flow.rotatedToken = token;
    await shown.getByRole('button', { name: 'Copy token' }).click();
    await shown.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await readClipboard(page)).toBe(token);
    await expectAccessible('shown once after rotation', { widths: [1280, 375] });

    const fresh = await selfStatus(keyfob.baseUrl, token);
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(200);
    expect(fresh.body).toMatchObject({ name: 'deploy from GitHub Actions', scopes: ['tokens:read'] });
    flow.rotatedId = (fresh.body as { id: string }).id;
    const rotatedHint = (fresh.body as { displayHint: string }).displayHint;
    expect((await selfStatus(keyfob.baseUrl, flow.firstToken)).status).toBe(401);

    await page.getByRole('link', { name: 'Done' }).click();
    await page.getByRole('heading', { level: 1, name: 'deploy from GitHub Actions' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/tokens/${flow.rotatedId}`);
    // The page loads the new token (it may show the old one's details for a moment: reported).
    await expect.poll(() => page.getByRole('region', { name: 'Details' }).innerText()).toContain(rotatedHint);
  });

  it('revokes after a confirmation: the new secret gets 401 too', { timeout: STEP }, async () => {
    const opener = page.getByRole('button', { name: 'Revoke' });
    await opener.click();
    const dialog = page.getByRole('dialog', { name: 'Revoke this token?' });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain('deploy from GitHub Actions');
    await expectAccessible('revoke dialog', { widths: [1280] });
    // Cancel first: nothing happens, focus goes back.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await isFocused(opener)).toBe(true);
    expect((await selfStatus(keyfob.baseUrl, flow.rotatedToken)).status).toBe(200);

    await opener.click();
    await dialog.getByRole('button', { name: 'Revoke token' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const details = page.getByRole('region', { name: 'Details' });
    await details.getByText('revoked', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Regenerate' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Revoke' }).count()).toBe(0);

    expect((await selfStatus(keyfob.baseUrl, flow.rotatedToken)).status).toBe(401);
    expect((await selfStatus(keyfob.baseUrl, flow.firstToken)).status).toBe(401);
    await expectAccessible('token detail, revoked', { widths: [1280] });
  });

  it('pre-fills the new-token form from the URL', { timeout: STEP }, async () => {
    await page.goto('/tokens/new?name=ci&scopes=tokens:read&expiresInDays=30');
    await page.getByRole('heading', { level: 1, name: 'New personal access token' }).waitFor();
    await page.getByRole('checkbox', { name: /tokens:read/ }).waitFor();
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('ci');
    expect(await page.getByRole('checkbox', { name: /tokens:read/ }).isChecked()).toBe(true);
    expect(await page.getByRole('checkbox', { name: /tokens:write/ }).isChecked()).toBe(false);
    expect(await page.getByLabel('Expiration', { exact: true }).inputValue()).toBe('30');

    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('region', { name: 'Your new token' });
    await shown.waitFor();
    const token = (await shown.getByLabel('Token', { exact: true }).innerText()).trim();
    secrets.tokens.push(token);
    const self = await selfStatus(keyfob.baseUrl, token);
    expect(self.status).toBe(200);
    expect(self.body).toMatchObject({ name: 'ci', scopes: ['tokens:read'] });
    const days = (Date.parse((self.body as { expiresAt: string }).expiresAt) - Date.parse((self.body as { createdAt: string }).createdAt)) / 86_400_000;
    expect(days).toBeCloseTo(30, 3);

    // A second active token, made from another pre-filled link, for the list below.
    await page.goto('/tokens/new?name=nightly%20backup&scopes=tokens:read,tokens:write&expiresInDays=7');
    await page.getByRole('checkbox', { name: /tokens:write/ }).waitFor();
    expect(await page.getByRole('checkbox', { name: /tokens:write/ }).isChecked()).toBe(true);
    expect(await page.getByLabel('Expiration', { exact: true }).inputValue()).toBe('7');
    await page.getByRole('button', { name: 'Create token' }).click();
    const second = page.getByRole('region', { name: 'Your new token' });
    await second.waitFor();
    secrets.tokens.push((await second.getByLabel('Token', { exact: true }).innerText()).trim());
  });

  it('lists tokens by status (active / expired / revoked) and searches by name', { timeout: STEP }, async () => {
    await page.getByRole('link', { name: 'Access tokens' }).click();
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    const table = page.getByRole('table');
    const names = async () => (await table.locator('tbody tr td:first-child a').allInnerTexts()).sort();
    const tab = (name: string) => page.getByRole('tablist', { name: 'Token status' }).getByRole('tab', { name });

    await table.waitFor();
    expect(await tab('Active').getAttribute('aria-selected')).toBe('true');
    expect(await names()).toEqual(['ci', 'nightly backup']);
    // Scopes as chips; the 7-day token carries the warning colour.
    const nightly = table.locator('tbody tr', { hasText: 'nightly backup' });
    expect(await nightly.getByRole('list', { name: 'Scopes' }).getByRole('listitem').allInnerTexts()).toEqual(['tokens:read', 'tokens:write']);
    expect(await nightly.locator('.expiry-soon').count()).toBe(1);
    // By its name link: a row's text also holds the token's display hint, whose random characters
    // can contain "ci" (hasText matches any part of the row, ignoring case).
    const ci = table.locator('tbody tr').filter({ has: page.getByRole('link', { name: 'ci', exact: true }) });
    expect(await ci.count()).toBe(1);
    expect(await ci.locator('.expiry-soon').count()).toBe(0);
    await expectAccessible('tokens list');
    await screenshot(page, 'tokens-list');
    await screenshot(page, 'tokens-list-dark', 'dark');

    await tab('Revoked').click();
    await expect.poll(() => tab('Revoked').getAttribute('aria-selected')).toBe('true');
    await expect.poll(names).toEqual(['deploy from GitHub Actions', 'deploy from GitHub Actions']);
    expect(new URL(page.url()).searchParams.get('status')).toBe('revoked');
    await expectAccessible('tokens list, revoked tab', { widths: [1280, 375] });

    await tab('Expired').click();
    await page.getByText('No expired tokens.').waitFor();
    expect(await page.getByRole('table').count()).toBe(0);

    await tab('Active').click();
    await expect.poll(names).toEqual(['ci', 'nightly backup']);
    const search = page.getByRole('searchbox', { name: 'Search tokens by name' });
    await search.fill('night');
    await search.press('Enter');
    await expect.poll(names).toEqual(['nightly backup']);
    expect(new URL(page.url()).searchParams.get('q')).toBe('night');
    await search.fill('no such token');
    await search.press('Enter');
    await page.getByText('No active tokens matching “no such token”.').waitFor();
    await search.fill('');
    await search.press('Enter');
    await expect.poll(names).toEqual(['ci', 'nightly backup']);
  });

  it('profile page: change the display name', { timeout: STEP }, async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profile' }).click();
    await page.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
    await expectAccessible('profile');
    await page.getByLabel('Display name').fill('Ada Admin');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Profile saved.').waitFor();
    await page.getByRole('banner').getByText('Ada Admin').waitFor();
  });

  it('keeps tokens and session material out of web storage and never trips the CSP', { timeout: STEP }, async () => {
    expect(secrets.tokens.length).toBe(4);
    expect(secrets.csrf.size).toBeGreaterThan(0);
    const cookie = (await context.cookies()).find((c) => c.name === 'keyfob_session');
    expect(cookie?.value, 'a live session cookie').toBeTruthy();
    const storage = await webStorageDump(page);
    const dumped = JSON.stringify(storage);
    for (const secret of [...secrets.tokens, ...secrets.csrf, cookie!.value]) {
      expect(dumped.includes(secret), `a secret (…${secret.slice(-4)}) is in web storage: ${dumped}`).toBe(false);
    }
    expect(dumped).not.toMatch(/kf_pat_/);
    // The session cookie is HttpOnly: page scripts cannot read it.
    expect(await documentCookie(page)).not.toContain('keyfob_session');

    expect(watch.cspViolations, watch.cspViolations.join('\n')).toEqual([]);
    expect(watch.pageErrors, watch.pageErrors.join('\n')).toEqual([]);
    expect(a11y, a11y.join('\n\n')).toEqual([]);
  });
});

describe.skipIf(!HAVE_CHROMIUM)('console e2e: sessions', () => {
  let keyfob: Keyfob;
  let browser: Browser;
  let context: BrowserContext | undefined;
  const a11y: string[] = [];

  beforeAll(async () => {
    keyfob = await startKeyfob({ KEYFOB_ADMIN_USERNAME: ADMIN.username, KEYFOB_ADMIN_PASSWORD: ADMIN.password });
    browser = await launchBrowser();
  });

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && !ctx.task.fails) console.error(`[${ctx.task.name}] failed:\n${await diagnose(context?.pages().at(-1), keyfob)}`);
  });

  afterAll(async () => {
    await closeQuietly(context, browser);
    await keyfob?.stop();
    await killAllServers();
  });

  async function signIn(page: Page): Promise<void> {
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('a deep link while signed out leads to the sign-in page (not a blank page), which signs in', { timeout: STEP }, async () => {
    context = await newContext(browser, keyfob.baseUrl);
    const page = await context.newPage();
    const watch = await watchPage(page);
    await page.goto('/tokens?status=revoked');
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    expect(new URL(page.url()).searchParams.get('next')).toBe('/tokens?status=revoked');
    await audit(page, 'login (deep link)', a11y);
    expect(a11y, a11y.join('\n')).toEqual([]);
    await signIn(page);
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
    await page.close();
  });

  it('after signing in, the app returns to the page that was asked for (?next=)', { timeout: STEP }, async () => {
    const page = await context!.newPage();
    await context!.clearCookies();
    await page.goto('/tokens?status=revoked');
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    await signIn(page);
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    try {
      expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe('/tokens?status=revoked');
    } finally {
      await page.close();
    }
  });

  it('a deleted session cookie: the next action shows the sign-in page with a message, not a blank page', { timeout: STEP }, async () => {
    const page = await context!.newPage();
    const watch = await watchPage(page);
    await page.goto('/tokens');
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    await context!.clearCookies();

    await page.getByRole('tab', { name: 'Revoked' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    const message = page.getByRole('status').filter({ hasText: 'Your session has expired' });
    await message.waitFor();
    expect(await message.innerText()).toContain('Sign in again');
    expect(new URL(page.url()).pathname).toBe('/login');
    await audit(page, 'login (session expired)', a11y, { widths: [1280, 375] });
    expect(a11y, a11y.join('\n')).toEqual([]);

    await signIn(page);
    await page.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    expect(await page.getByText('Your session has expired').count()).toBe(0);
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
    await page.close();
  });

  it('signing out in another tab: this tab shows the sign-in page with the message on its next request', { timeout: STEP }, async () => {
    const first = await context!.newPage();
    const watch = await watchPage(first);
    await first.goto('/tokens');
    await first.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();

    const second = await context!.newPage();
    await second.goto('/profile');
    await second.getByRole('heading', { level: 1, name: 'Profile' }).waitFor();
    await second.getByRole('button', { name: 'Sign out' }).click();
    await second.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();

    await first.getByRole('link', { name: 'New token' }).first().click();
    await first.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    await first.getByText('Your session has expired. Sign in again to continue.').waitFor();
    expect(await first.locator('#root').innerText()).not.toBe('');
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  });
});
