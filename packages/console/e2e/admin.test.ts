/**
 * The console's admin pages in a real browser against a real keyfob process (issue 4): create a
 * user, promote and demote them, disable them (their session and token stop working, their page
 * shows the sign-in page); change the policy and see it in the new-token expiry choices; add a
 * scope and see it in the new-token form; register an OAuth client (secret shown once); the audit
 * log and its filter; axe-core on every admin page in light and dark at 1280 and 375 px.
 *
 * The tests run in order and share one keyfob, one browser and the admin's page.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { killAllServers } from '../../server/test/helpers/server-process.js';
import {
  HAVE_CHROMIUM,
  audit,
  diagnose,
  documentCookie,
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

const ADMIN = { username: 'root', password: 'admin password 0123' };
const DEV = { username: 'dev', password: 'dev password 0123', displayName: 'Dev Eloper' };
const STEP = 90_000;

async function apiLogin(baseUrl: string, username: string, password: string): Promise<{ status: number; body: { user?: { role: string }; csrfToken?: string }; cookie?: string }> {
  const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { user?: { role: string }; csrfToken?: string };
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('keyfob_session='))?.split(';')[0];
  return { status: res.status, body, ...(cookie ? { cookie } : {}) };
}

describe.skipIf(!HAVE_CHROMIUM)('console e2e: administration', () => {
  let keyfob: Keyfob;
  let browser: Browser;
  let context: BrowserContext;
  let devContext: BrowserContext | undefined;
  let page: Page;
  let watch: PageWatch;
  const a11y: string[] = [];
  const secrets: string[] = [];
  let devToken = '';

  async function expectAccessible(label: string, options?: Parameters<typeof audit>[3], on: Page = page): Promise<void> {
    const before = a11y.length;
    await audit(on, label, a11y, options);
    expect(a11y.slice(before), `axe-core, ${label}:\n${a11y.slice(before).join('\n')}`).toEqual([]);
  }

  async function openAdmin(link: string, heading: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  function userRow(username: string): Locator {
    return page.getByRole('table').locator('tbody tr').filter({ has: page.getByText(username, { exact: true }) });
  }

  /** Opens a row action's confirmation, checks its title, confirms; returns the notice. */
  async function confirmRowAction(button: string, title: string, confirm: string): Promise<string> {
    await page.getByRole('button', { name: button, exact: true }).click();
    const dialog = page.getByRole('dialog', { name: title });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: confirm, exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const notice = page.getByRole('status').filter({ hasText: DEV.username });
    await notice.first().waitFor();
    return notice.first().innerText();
  }

  beforeAll(async () => {
    keyfob = await startKeyfob({ KEYFOB_ADMIN_USERNAME: ADMIN.username, KEYFOB_ADMIN_PASSWORD: ADMIN.password });
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
    await closeQuietly(devContext, context, browser);
    await keyfob?.stop();
    await killAllServers();
  });

  it('signs in as the admin; the admin navigation leads to the users page', { timeout: STEP }, async () => {
    await page.goto('/admin');
    await page.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Administration' }).waitFor();
    await openAdmin('Users', 'Users');
    expect(new URL(page.url()).pathname).toBe('/admin/users');
    await userRow(ADMIN.username).waitFor();
    await expectAccessible('admin: users');
  });

  it('creates a user in the "New user" dialog; field errors from the API sit beside the field', { timeout: STEP }, async () => {
    const opener = page.getByRole('button', { name: 'New user' });
    await opener.click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    await dialog.waitFor();
    expect(await isModal(dialog)).toBe(true);
    await expectAccessible('admin: new user dialog', { widths: [1280, 375] });

    // A password the API refuses: the message is on the password field.
    await dialog.getByLabel('Username').fill(DEV.username);
    await dialog.getByLabel('Display name (optional)').fill(DEV.displayName);
    await dialog.getByLabel('Password').fill('short');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    const password = dialog.getByLabel('Password');
    await expect.poll(() => password.getAttribute('aria-invalid')).toBe('true');

    // Escape closes the dialog and focus returns to "New user".
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await isFocused(opener)).toBe(true);

    await opener.click();
    await dialog.waitFor();
    await dialog.getByLabel('Username').fill(DEV.username);
    await dialog.getByLabel('Display name (optional)').fill(DEV.displayName);
    await dialog.getByLabel('Password').fill(DEV.password);
    expect(await dialog.getByLabel('Role').inputValue()).toBe('user');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('status').filter({ hasText: `User ${DEV.username} was created` }).waitFor();
    const row = userRow(DEV.username);
    await row.waitFor();
    expect(await row.innerText()).toContain(DEV.displayName);
    expect(await row.locator('.badge-role-user').count()).toBe(1);

    const login = await apiLogin(keyfob.baseUrl, DEV.username, DEV.password);
    expect(login.status).toBe(200);
    expect(login.body.user?.role).toBe('user');
    // A token of the new user, to see it stop when the user is disabled.
    const created = await fetch(`${keyfob.baseUrl}/api/v1/me/tokens`, {
      method: 'POST',
      headers: { cookie: login.cookie!, 'x-csrf-token': login.body.csrfToken!, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'dev laptop', scopes: ['tokens:read'], expiresInDays: 30 }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(created.status).toBe(201);
    devToken = ((await created.json()) as { token: string }).token;
    secrets.push(devToken);
    expect((await selfStatus(keyfob.baseUrl, devToken)).status).toBe(200);
  });

  it('promotes and demotes the user after a confirmation', { timeout: STEP }, async () => {
    expect(await confirmRowAction(`Make admin ${DEV.username}`, `Make ${DEV.username} an admin?`, 'Make admin')).toContain(`${DEV.username} is now an admin`);
    await userRow(DEV.username).locator('.badge-role-admin').waitFor();
    expect((await apiLogin(keyfob.baseUrl, DEV.username, DEV.password)).body.user?.role).toBe('admin');

    expect(await confirmRowAction(`Make user ${DEV.username}`, `Remove admin rights from ${DEV.username}?`, 'Make user')).toContain(`${DEV.username} is now a user`);
    await userRow(DEV.username).locator('.badge-role-user').waitFor();
    expect((await apiLogin(keyfob.baseUrl, DEV.username, DEV.password)).body.user?.role).toBe('user');
  });

  it('a plain user sees no admin navigation and is turned away from admin pages', { timeout: STEP }, async () => {
    devContext = await newContext(browser, keyfob.baseUrl);
    const devPage = await devContext.newPage();
    await devPage.goto('/login');
    await devPage.getByLabel('Username').fill(DEV.username);
    await devPage.getByLabel('Password').fill(DEV.password);
    await devPage.getByRole('button', { name: 'Sign in' }).click();
    await devPage.getByRole('heading', { level: 1, name: 'Access tokens' }).waitFor();
    expect(await devPage.getByRole('navigation', { name: 'Administration' }).count()).toBe(0);
    // No admin:* scope is offered to a plain user.
    await devPage.goto('/tokens/new');
    await devPage.getByRole('checkbox', { name: /tokens:read/ }).waitFor();
    expect(await devPage.getByRole('checkbox', { name: /admin:/ }).count()).toBe(0);
    await devPage.goto('/admin/users');
    await devPage.getByRole('alert').filter({ hasText: 'This page is for administrators.' }).waitFor();
  });

  it('disables the user: their session and token stop, and their open page goes to sign-in with a message', { timeout: STEP }, async () => {
    expect(await confirmRowAction(`Disable user ${DEV.username}`, `Disable ${DEV.username}?`, 'Disable user')).toContain(`${DEV.username} was disabled`);
    const row = userRow(DEV.username);
    await row.getByText('disabled', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: `Enable user ${DEV.username}`, exact: true }).count()).toBe(1);

    expect((await apiLogin(keyfob.baseUrl, DEV.username, DEV.password)).status).toBe(401);
    expect((await selfStatus(keyfob.baseUrl, devToken)).status).toBe(401);

    const devPage = devContext!.pages()[0]!;
    await devPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access tokens' }).click();
    await devPage.getByRole('heading', { level: 1, name: 'Sign in to keyfob' }).waitFor();
    await devPage.getByText('Your session has expired').waitFor();

    await expectAccessible('admin: users (after changes)');
    await screenshot(page, 'admin-users');
  });

  it('changes the policy (presets 7, 14; maximum 14 days): the new-token form offers only those', { timeout: STEP }, async () => {
    await openAdmin('Policy', 'Token policy');
    const form = page.getByRole('form', { name: 'Token policy' });
    await form.waitFor();
    await expectAccessible('admin: policy');

    await form.getByLabel('Expiry choices (days)').fill('7, 14');
    await form.getByLabel('Maximum lifetime (days)').fill('14');
    // The default (30) is now longer than the maximum: the API says so beside the default.
    expect(await form.getByLabel('Default expiry (days)').inputValue()).toBe('30');
    await form.getByRole('button', { name: 'Save policy' }).click();
    const defaultField = form.getByLabel('Default expiry (days)');
    await expect.poll(() => defaultField.getAttribute('aria-invalid')).toBe('true');
    const describedBy = ((await defaultField.getAttribute('aria-describedby')) ?? '').split(' ').filter(Boolean);
    const described = await Promise.all(describedBy.map((id) => page.locator(`[id="${id}"]`).innerText()));
    expect(described.join(' ')).toMatch(/maxLifetimeDays|maximum/i);

    await defaultField.fill('14');
    await form.getByRole('button', { name: 'Save policy' }).click();
    await form.getByText('Policy saved.').waitFor();
    expect(await form.getByLabel('Expiry choices (days)').inputValue()).toBe('7, 14');
    await screenshot(page, 'admin-policy');

    await page.goto('/tokens/new');
    const expiry = page.getByLabel('Expiration', { exact: true });
    await expiry.waitFor();
    const choices = await optionValues(expiry);
    expect(choices).toEqual(['7', '14', 'custom']);
    expect(await expiry.inputValue()).toBe('14');

    // A custom date past the maximum: the API's refusal is shown on the Expiration field.
    await page.getByLabel('Name', { exact: true }).fill('too long');
    await page.getByRole('checkbox', { name: /tokens:read/ }).check();
    await expiry.selectOption('custom');
    const date = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel('Expiration date').fill(date);
    await page.getByRole('button', { name: 'Create token' }).click();
    await expect.poll(() => expiry.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field-invalid .field-error').innerText()).toMatch(/14 days/);

    await page.getByLabel('Name', { exact: true }).fill('release bot');
    await expiry.selectOption('14');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('region', { name: 'Your new token' });
    await shown.waitFor();
    const token = (await shown.getByLabel('Token', { exact: true }).innerText()).trim();
    secrets.push(token);
    const self = await selfStatus(keyfob.baseUrl, token);
    expect(self.status).toBe(200);
    const body = self.body as { expiresAt: string; createdAt: string };
    expect((Date.parse(body.expiresAt) - Date.parse(body.createdAt)) / 86_400_000).toBeCloseTo(14, 3);
  });

  it('adds a scope to the catalogue; the new-token form offers it under its resource', { timeout: STEP }, async () => {
    await page.goto('/admin/scopes');
    await page.getByRole('heading', { level: 1, name: 'Scopes' }).waitFor();
    const add = page.getByRole('region', { name: 'Add a scope' });
    await add.getByLabel('Name', { exact: true }).fill('repo:read');
    await add.getByLabel('Description (optional)').fill('Read repositories');
    await add.getByRole('button', { name: 'Add scope' }).click();
    await page.getByRole('status').filter({ hasText: 'Scope repo:read was added.' }).waitFor();
    await page.getByRole('table').getByText('repo:read', { exact: true }).waitFor();
    await expectAccessible('admin: scopes');

    await page.goto('/tokens/new');
    const repo = page.getByRole('checkbox', { name: /repo:read/ });
    await repo.waitFor();
    expect(await page.getByRole('heading', { level: 3, name: 'repo' }).count()).toBe(1);
    expect(await page.locator('label.checkbox', { has: repo }).innerText()).toContain('Read repositories');
    // The admin sees admin:* scopes, with a warning once one is picked.
    await page.getByRole('checkbox', { name: /admin:read/ }).check();
    await page.getByText('Admin scopes let this token manage users and every token.').waitFor();
  });

  it('registers an OAuth client and shows its secret once', { timeout: STEP }, async () => {
    await page.goto('/admin/clients');
    await page.getByRole('heading', { level: 1, name: 'OAuth clients' }).waitFor();
    await expectAccessible('admin: OAuth clients (empty)', { widths: [1280, 375] });
    await page.getByRole('button', { name: 'Register client' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register an OAuth client' });
    await dialog.waitFor();
    await expectAccessible('admin: register client dialog', { widths: [1280] });
    await dialog.getByLabel('Name', { exact: true }).fill('billing gateway');
    await dialog.getByRole('button', { name: 'Register client' }).click();
    const shown = page.getByRole('dialog', { name: 'Client billing gateway registered' });
    await shown.waitFor();
    const secret = (await shown.getByLabel('Client secret', { exact: true }).innerText()).trim();
    expect(secret.length).toBeGreaterThan(20);
    secrets.push(secret);
    expect(await shown.innerText()).toMatch(/will not be shown again/i);
    await writeClipboard(page, 'not the secret');
    await shown.getByRole('button', { name: 'Copy client secret' }).click();
    expect(await readClipboard(page)).toBe(secret);
    await expectAccessible('admin: client secret shown once', { widths: [1280, 375] });
    await shown.getByRole('button', { name: 'I have copied the secret' }).click();
    await shown.waitFor({ state: 'hidden' });
    await page.getByRole('table').getByText('billing gateway').first().waitFor();
    await expectAccessible('admin: OAuth clients');
  });

  it('all tokens, signing keys: each admin page passes axe', { timeout: STEP }, async () => {
    await openAdmin('All tokens', 'All tokens');
    await page.getByRole('table').getByText('dev laptop', { exact: true }).waitFor();
    await expectAccessible('admin: all tokens');
    await openAdmin('Signing keys', 'Signing keys');
    await page.getByRole('button', { name: 'Rotate keys' }).waitFor();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Loading' }).count()).toBe(0);
    await expectAccessible('admin: signing keys');
  });

  it('the audit log records what happened and filters by action', { timeout: STEP }, async () => {
    await openAdmin('Audit log', 'Audit log');
    const table = page.getByRole('table');
    await table.waitFor();
    const actions = async () => table.locator('tbody tr td:nth-child(2)').allInnerTexts();
    const seen = (await actions()).map((a) => a.replace(/\s*\(show only these events\)\s*$/, '').trim());
    for (const action of ['user.created', 'user.role_changed', 'policy.updated', 'token.created']) expect(seen, seen.join(', ')).toContain(action);
    expect(seen, seen.join(', ')).toContain('user.disabled');
    await expectAccessible('admin: audit log');
    await screenshot(page, 'admin-audit');

    const filters = page.getByRole('form', { name: 'Filter audit events' });
    await filters.getByLabel('Action').fill('user.*');
    await filters.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('action')).toBe('user.*');
    await expect.poll(async () => (await actions()).every((a) => a.startsWith('user.'))).toBe(true);
    expect((await actions()).length).toBeGreaterThanOrEqual(3);
  });

  it('no secret in web storage, no CSP violation, no page error', { timeout: STEP }, async () => {
    const dumped = JSON.stringify(await webStorageDump(page));
    for (const secret of secrets) expect(dumped.includes(secret), `a secret (…${secret.slice(-4)}) is in web storage`).toBe(false);
    expect(await documentCookie(page)).not.toContain('keyfob_session');
    expect(watch.cspViolations, watch.cspViolations.join('\n')).toEqual([]);
    expect(watch.pageErrors, watch.pageErrors.join('\n')).toEqual([]);
    expect(a11y, a11y.join('\n\n')).toEqual([]);
  });
});
