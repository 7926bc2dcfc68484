/**
 * The console's webhook pages in a real browser against a real keyfob process and a real HTTP
 * receiver (issue 8): add a webhook (secret shown once), see a token event arrive signed, read
 * the delivery log with the body sent, send a delivery again; axe-core on each page.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { verifySignature } from '../../server/src/crypto/webhook-signature.js';
import { killAllServers } from '../../server/test/helpers/server-process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../server/test/helpers/receivers.js';
import { HAVE_CHROMIUM, audit, closeQuietly, diagnose, isFocused, launchBrowser, newContext, screenshot, startKeyfob, watchPage, webStorageDump, type Keyfob, type PageWatch } from './support/harness.js';

const ADMIN = { username: 'root', password: 'admin password 0123' };
const STEP = 90_000;

describe.skipIf(!HAVE_CHROMIUM)('console e2e: webhooks', () => {
  let keyfob: Keyfob;
  let receiver: WebhookReceiver;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  let secret = '';
  const a11y: string[] = [];

  async function expectAccessible(label: string): Promise<void> {
    const before = a11y.length;
    await audit(page, label, a11y, { widths: [1280, 375] });
    expect(a11y.slice(before), `axe-core, ${label}:\n${a11y.slice(before).join('\n')}`).toEqual([]);
  }

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    keyfob = await startKeyfob({ KEYFOB_ADMIN_USERNAME: ADMIN.username, KEYFOB_ADMIN_PASSWORD: ADMIN.password, KEYFOB_JOB_INTERVAL_MS: '200' });
    browser = await launchBrowser();
    context = await newContext(browser, keyfob.baseUrl);
    page = await context.newPage();
    watch = await watchPage(page);
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(`[${ctx.task.name}] failed:\n${await diagnose(page, keyfob, watch)}`);
  });
  afterAll(async () => {
    await closeQuietly(context, browser);
    await keyfob?.stop();
    await receiver?.close();
    await killAllServers();
  });

  it('adds a webhook from the admin navigation and shows its signing secret once', { timeout: STEP }, async () => {
    await page.goto('/login');
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Webhooks', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    await page.getByRole('heading', { name: 'No webhooks yet' }).waitFor();
    await expectAccessible('admin: webhooks (empty)');

    await page.getByRole('button', { name: 'Add webhook' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a webhook' });
    await dialog.waitFor();
    // The API's field error is shown beside the field.
    await dialog.getByLabel('Payload URL').fill('ftp://example.com/hook');
    await dialog.getByRole('button', { name: 'Add webhook' }).click();
    await dialog.getByText(/Must be an absolute http/).waitFor();
    await dialog.getByLabel('Payload URL').fill(receiver.url);
    await dialog.getByLabel('Description (optional)').fill('deploy bot');
    expect(await dialog.getByRole('checkbox', { name: 'All token events (token.*)' }).isChecked()).toBe(true);
    await expectAccessible('admin: add webhook dialog');
    await dialog.getByRole('button', { name: 'Add webhook' }).click();

    const shown = page.getByRole('dialog', { name: 'Webhook added' });
    await shown.waitFor();
    secret = (await shown.getByLabel('Signing secret', { exact: true }).innerText()).trim();
    expect(secret).toMatch(/^kf_whsec_/);
    await shown.getByRole('button', { name: 'I have copied the secret' }).click();
    await shown.waitFor({ state: 'hidden' });
    await page.getByRole('table').getByRole('link', { name: receiver.url }).waitFor();
    expect(await page.content()).not.toContain(secret);
  });

  it('a token event arrives signed; the delivery log shows it with its body and sends it again', { timeout: STEP }, async () => {
    const login = await fetch(`${keyfob.baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('keyfob_session='))!.split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const created = await fetch(`${keyfob.baseUrl}/api/v1/me/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
      body: JSON.stringify({ name: 'release pipeline', scopes: ['tokens:read'] }),
    });
    expect(created.status).toBe(201);
    await expect.poll(() => receiver.received.length, { timeout: 20_000 }).toBe(1);
    const [first] = receiver.received;
    expect(first!.headers['keyfob-event']).toBe('token.created');
    expect(verifySignature(secret, String(first!.headers['keyfob-signature']), first!.body, Math.floor(Date.now() / 1000))).toBe(true);

    await page.getByRole('table').getByRole('link', { name: receiver.url }).click();
    await page.getByRole('heading', { level: 1, name: 'Webhook deliveries' }).waitFor();
    const row = page.getByRole('table').locator('tbody tr').first();
    await row.getByText('token.created', { exact: true }).first().waitFor();
    await row.getByText('succeeded').waitFor();
    await row.getByText('Body').click();
    await row.getByText('"release pipeline"').waitFor();
    await expectAccessible('admin: webhook deliveries');

    await row.getByRole('button', { name: /Send again/ }).click();
    await page.getByRole('status').filter({ hasText: 'queued to be sent again' }).waitFor();
    await expect.poll(() => receiver.received.length, { timeout: 20_000 }).toBe(2);
    expect(receiver.received[1]!.body).toBe(first!.body);
    // The receiver counts a delivery before it answers: refresh until the log has caught up.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh' }).click();
          return page.getByRole('table').locator('tbody tr').filter({ hasText: 'succeeded' }).count();
        },
        { timeout: 20_000 },
      )
      .toBe(2);
    await page.getByRole('table').getByText('re-send').waitFor();
    await screenshot(page, 'admin-webhook-deliveries');
  });

  it('deletes the webhook after a confirmation; focus goes to the page heading, its row being gone', { timeout: STEP }, async () => {
    await page.getByRole('link', { name: 'All webhooks' }).click();
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    await page.getByRole('button', { name: `Delete webhook ${receiver.url}`, exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this webhook?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByRole('status').filter({ hasText: 'was deleted' }).waitFor();
    await page.getByRole('heading', { name: 'No webhooks yet' }).waitFor();
    await expect.poll(() => isFocused(page.getByRole('heading', { level: 1, name: 'Webhooks' }))).toBe(true);
  });

  it('keeps the secret out of web storage; no CSP violation or page error', { timeout: STEP }, async () => {
    expect(JSON.stringify(await webStorageDump(page))).not.toContain(secret);
    expect(watch.cspViolations, watch.cspViolations.join('\n')).toEqual([]);
    expect(watch.pageErrors, watch.pageErrors.join('\n')).toEqual([]);
  });
});
