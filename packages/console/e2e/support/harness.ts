/**
 * Shared pieces of the console's end-to-end suites: a real keyfob process on a free port with a
 * fresh SQLite data folder, Debian's Chromium driven by playwright-core, axe-core audits, a watch
 * on the browser console for CSP violations and page errors, and the screenshots for the docs.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startServer, type ServerProcess } from '../../../server/test/helpers/server-process.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);
if (!HAVE_CHROMIUM) {
  console.warn(`[console e2e] ${CHROMIUM_PATH} is missing: the browser suites are skipped (apt-get install -y chromium; CI installs it).`);
}

/** Upper bound for any single wait on the page (locators, navigations). */
export const STEP_TIMEOUT_MS = 15_000;

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SCREENSHOT_DIR = join(REPO_ROOT, 'docs', 'screenshots');
export const CONSOLE_DIST = join(REPO_ROOT, 'packages', 'console', 'dist');

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * The browser's globals, for callbacks that run in the page. The test typecheck
 * (tsconfig.test.json) has no DOM lib, and adding one there would type the server sources with
 * browser globals too, so page callbacks reach `document`, `navigator`… through this handle.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type InPage = any;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export interface Keyfob {
  readonly server: ServerProcess;
  readonly baseUrl: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/**
 * A private copy of the built console (packages/console/dist). The server reads index.html once at
 * start and the assets from disk on each request, and `npm test` (pretest) or `npm run build`
 * elsewhere in the working tree empties and rewrites dist with new hashed names: a server pointed
 * at the shared folder would then serve an index.html whose script is gone (a blank page). The copy
 * is checked to be whole (every asset index.html names is there), retrying if a build was mid-way.
 */
async function snapshotConsole(into: string): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    await rm(into, { recursive: true, force: true });
    try {
      await cp(CONSOLE_DIST, into, { recursive: true });
      const index = await readFile(join(into, 'index.html'), 'utf8');
      const assets = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
      if (assets.length > 0 && assets.every((a) => existsSync(join(into, a)))) return into;
    } catch {
      // dist is being rewritten: try again
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no complete console build in ${CONSOLE_DIST}: run \`npm run build\` first`);
}

/**
 * A real keyfob (`node packages/server/dist/main.js`) on a free port (or `options.port`, for a
 * test that must name keyfob's URL before it starts): SQLite in a fresh data folder, the console
 * served from a private copy of the build.
 */
export async function startKeyfob(env: Record<string, string | undefined> = {}, options: { port?: number } = {}): Promise<Keyfob> {
  const root = await mkdtemp(join(tmpdir(), 'keyfob-e2e-'));
  const dataDir = join(root, 'data');
  let server: ServerProcess;
  try {
    await mkdir(dataDir);
    const consoleDir = await snapshotConsole(join(root, 'console'));
    server = await startServer({ KEYFOB_LOG_LEVEL: 'warn', ...env, KEYFOB_DATA_DIR: dataDir, KEYFOB_CONSOLE_DIR: consoleDir, DATABASE_URL: undefined, KEYFOB_SECRET: undefined }, options);
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    server,
    baseUrl: server.baseUrl,
    dataDir,
    async stop() {
      await server.stop('SIGTERM', 10_000).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A fresh browser context on keyfob's origin, with the clipboard permissions granted. */
export async function newContext(browser: Browser, baseUrl: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 800 }, colorScheme: 'light', locale: 'en-US', timezoneId: 'UTC' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
  await context.addInitScript({ path: AXE_PATH });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  return context;
}

// ---------------------------------------------------------------------------------------------
// Console watch: CSP violations and uncaught errors

export interface PageWatch {
  /** Every console message of type error or warning, as "type: text". */
  readonly messages: string[];
  /** Console messages that report a Content-Security-Policy violation. */
  readonly cspViolations: string[];
  /** Uncaught exceptions in the page. */
  readonly pageErrors: string[];
}

const CSP_MESSAGE = /Content Security Policy|Content-Security-Policy|securitypolicyviolation/i;

/**
 * Listens to the page's console and uncaught errors; also records `securitypolicyviolation`
 * events from inside every document (the init script runs through DevTools, outside the CSP).
 */
export async function watchPage(page: Page): Promise<PageWatch> {
  const watch: PageWatch = { messages: [], cspViolations: [], pageErrors: [] };
  page.on('console', (msg) => {
    const text = msg.text();
    if (CSP_MESSAGE.test(text)) watch.cspViolations.push(text);
    if (msg.type() === 'error' || msg.type() === 'warning') watch.messages.push(`${msg.type()}: ${text}`);
  });
  page.on('pageerror', (error) => {
    watch.pageErrors.push(String(error.stack ?? error));
  });
  await page.addInitScript(() => {
    (globalThis as InPage).document.addEventListener('securitypolicyviolation', (e: InPage) => {
      console.error(`securitypolicyviolation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return watch;
}

// ---------------------------------------------------------------------------------------------
// axe-core

interface AxeNode {
  target: unknown[];
  html: string;
  failureSummary?: string;
}
interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  helpUrl: string;
  nodes: AxeNode[];
}

export type Scheme = 'light' | 'dark';

export interface AuditOptions {
  readonly schemes?: readonly Scheme[];
  readonly widths?: readonly number[];
}

/**
 * axe-core is loaded into every document of the context before the page's own scripts
 * (`context.addInitScript({ path })`, see newContext). `page.addScriptTag({ path })` cannot be
 * used here: it inserts an inline <script>, which the console's CSP (script-src 'self') rightly
 * blocks, and the blocked attempt would itself be a CSP violation in the console. Init scripts
 * run through DevTools, outside the page's CSP, and leave the CSP in force for the app.
 */
async function injectAxe(page: Page): Promise<void> {
  const present = await page.evaluate(() => typeof (globalThis as InPage).axe?.run === 'function');
  if (!present) throw new Error(`axe-core is not loaded in ${page.url()}: create the context with newContext()`);
}

/** Runs axe-core on the current document; returns the serious and critical violations. */
export async function axeSeriousViolations(page: Page): Promise<AxeViolation[]> {
  await injectAxe(page);
  const result = await page.evaluate(async () => {
    const { axe, document } = globalThis as InPage;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
    return r.violations as unknown[];
  });
  return (result as AxeViolation[]).filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export function formatViolations(violations: readonly AxeViolation[]): string {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 5)
        .map((n) => `      - ${JSON.stringify(n.target)}\n        ${n.html.slice(0, 200)}\n        ${(n.failureSummary ?? '').replace(/\n/g, '\n        ')}`)
        .join('\n');
      return `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes}${v.nodes.length > 5 ? `\n      … and ${v.nodes.length - 5} more` : ''}`;
    })
    .join('\n');
}

/**
 * Audits the page as it is now in every combination of colour scheme and width (the page is not
 * reloaded, so one-time views such as a freshly created secret can be audited too), then restores
 * light at 1280×800. Collects the problems into `failures` instead of throwing, so one run
 * reports every page.
 */
export async function audit(page: Page, label: string, failures: string[], options: AuditOptions = {}): Promise<void> {
  const schemes = options.schemes ?? ['light', 'dark'];
  const widths = options.widths ?? [1280, 375];
  for (const scheme of schemes) {
    for (const width of widths) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width, height: 800 });
      const violations = await axeSeriousViolations(page);
      if (violations.length > 0) failures.push(`${label} (${scheme}, ${width}px): ${violations.length} serious/critical axe violation(s)\n${formatViolations(violations)}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
}

// ---------------------------------------------------------------------------------------------
// Screenshots for the docs

/** Saves the viewport (1280×800) as docs/screenshots/<name>.png, overwriting the last run's. */
export async function screenshot(page: Page, name: string, scheme: Scheme = 'light'): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: scheme });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), animations: 'disabled', caret: 'hide' });
  if (scheme !== 'light') await page.emulateMedia({ colorScheme: 'light' });
}

// ---------------------------------------------------------------------------------------------
// Odds and ends

/** GET /api/v1/tokens/self with the token, from Node (not the browser): the status. */
export async function selfStatus(baseUrl: string, token: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}/api/v1/tokens/self`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

/** Everything in localStorage and sessionStorage of the page's origin, as one string. */
export async function webStorageDump(page: Page): Promise<{ localStorage: Record<string, string>; sessionStorage: Record<string, string> }> {
  return page.evaluate(() => {
    const dump = (s: InPage) => {
      const out: Record<string, string> = {};
      for (let i = 0; i < s.length; i++) {
        const key = s.key(i)!;
        out[key] = s.getItem(key) ?? '';
      }
      return out;
    };
    const { localStorage, sessionStorage } = globalThis as InPage;
    return { localStorage: dump(localStorage), sessionStorage: dump(sessionStorage) };
  });
}

/** Where keyboard focus is: in an open dialog, on the page behind it, or nowhere in the document. */
export async function focusInfo(page: Page): Promise<{ where: 'dialog' | 'page' | 'outside-document'; text: string; html: string }> {
  return page.evaluate(() => {
    const { document } = globalThis as InPage;
    const el = document.activeElement;
    if (!el || el === document.body) return { where: 'outside-document' as const, text: '', html: '' };
    return { where: el.closest('dialog[open]') ? ('dialog' as const) : ('page' as const), text: String(el.textContent ?? ''), html: String(el.outerHTML).slice(0, 120) };
  });
}

/** Whether the element has keyboard focus. */
export function isFocused(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => el === (globalThis as InPage).document.activeElement);
}

/** Whether a <dialog> is open as a modal (top layer, the rest of the page inert). */
export function isModal(locator: Locator): Promise<boolean> {
  return locator.evaluate((el: InPage) => el.open === true && el.matches(':modal'));
}

/** The values of a <select>'s options, in order. */
export function optionValues(select: Locator): Promise<string[]> {
  return select.locator('option').evaluateAll((options) => options.map((o: InPage) => String(o.value)));
}

export function readClipboard(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as InPage).navigator.clipboard.readText() as Promise<string>);
}

export function writeClipboard(page: Page, text: string): Promise<void> {
  return page.evaluate((t) => (globalThis as InPage).navigator.clipboard.writeText(t) as Promise<void>, text);
}

/** What page scripts see of the cookies (HttpOnly ones are not there). */
export function documentCookie(page: Page): Promise<string> {
  return page.evaluate(() => String((globalThis as InPage).document.cookie));
}

/** Closes a context and a browser without letting a failure of one hide the other. */
export async function closeQuietly(...closables: ({ close(): Promise<unknown> } | undefined)[]): Promise<void> {
  for (const c of closables) {
    if (c) await c.close().catch(() => undefined);
  }
}

/** What a failed step leaves behind: the page's address and text, the console, the server's log tail. */
export async function diagnose(page: Page | undefined, keyfob: Keyfob | undefined, watch?: PageWatch): Promise<string> {
  const lines: string[] = [];
  if (page && !page.isClosed()) {
    lines.push(`page: ${page.url()}`);
    const text = await page.locator('body').innerText({ timeout: 2000 }).catch((e: unknown) => `(no text: ${String(e)})`);
    lines.push(`page text:\n${text.slice(0, 2000)}`);
  }
  if (watch) lines.push(`console errors/warnings:\n${watch.messages.slice(-20).join('\n')}`, `page errors:\n${watch.pageErrors.join('\n')}`);
  if (keyfob) lines.push(`keyfob stderr (tail):\n${keyfob.server.stderr().slice(-2000)}`, `keyfob stdout (tail):\n${keyfob.server.stdout().slice(-2000)}`);
  return lines.join('\n');
}
