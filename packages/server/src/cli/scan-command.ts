import type { Command } from 'commander';
import { relative } from 'node:path';
import { isValidPrefix } from '@keyfob/protocol';
import { loadAcceptedPrefixes } from '../config/load.js';
import { listFiles } from '../scan/file-walker.js';
import { MAX_FILE_BYTES, scanFile, type Finding } from '../scan/token-scan.js';

interface ScanOptions {
  readonly json?: boolean;
  readonly prefix?: string[];
  readonly revoke?: string;
  readonly progress?: boolean;
}

/** Trees at least this large get a progress bar when stderr is a terminal. */
const PROGRESS_FROM_FILES = 500;
const REPORT_CHUNK = 1000;

export function registerScanCommand(program: Command): void {
  program
    .command('scan [paths...]')
    .description('find keyfob tokens in files and folders (honours .gitignore, skips binaries); exits 1 when it finds any')
    .option('--json', 'print the findings as JSON')
    .option('--prefix <prefix...>', 'token prefixes to look for (default: KEYFOB_TOKEN_PREFIX and KEYFOB_LEGACY_TOKEN_PREFIXES, else kf_pat)')
    .option('--revoke <server>', 'report every token found to <server>/credentials/revoke, which revokes the active ones')
    .option('--progress', 'always show a progress bar on stderr')
    .option('--no-progress', 'never show a progress bar')
    .addHelpText(
      'after',
      `
Examples:
  keyfob scan                         scan the current folder
  keyfob scan src config/app.env      scan some folders and files
  keyfob scan . --revoke https://keyfob.example.com
  # as a git pre-commit hook (.git/hooks/pre-commit):
  git diff --cached --name-only --diff-filter=ACM -z | xargs -0 -r npx keyfob scan

Output is one line per token, "file:line:column  hint", where the hint is the prefix and the
first and last 4 characters: never the whole token. Files are read as they are on disk (in a
hook, the working tree, not the staged copy); folders honour .gitignore, so an ignored file is
scanned only when named. Exit codes: 0 nothing found, 1 tokens found (or an error, described on
stderr).`,
    )
    .action(async (paths: string[], options: ScanOptions) => {
      process.exitCode = await runScan(paths.length > 0 ? paths : ['.'], options);
    });
}

async function runScan(paths: readonly string[], options: ScanOptions): Promise<number> {
  const prefixes = options.prefix ?? loadAcceptedPrefixes();
  const bad = prefixes.find((p) => !isValidPrefix(p));
  if (bad !== undefined) throw new Error(`--prefix "${bad}" must match [a-z][a-z0-9_]{1,15}`);

  const files = await listFiles(paths);
  const progress = (options.progress ?? (process.stderr.isTTY && files.length >= PROGRESS_FROM_FILES)) ? new ProgressBar(files.length) : undefined;
  const findings: Finding[] = [];
  let binary = 0;
  let tooLarge = 0;
  let unreadable = 0;
  for (const [i, file] of files.entries()) {
    const result = await scanFile(file, prefixes).catch(() => undefined);
    if (result === undefined) unreadable++;
    else if (result.kind === 'binary') binary++;
    else if (result.kind === 'too_large') tooLarge++;
    else findings.push(...result.findings.map((f) => ({ ...f, file: displayPath(f.file) })));
    progress?.update(i + 1);
  }
  progress?.done();

  const reported = options.revoke === undefined ? undefined : await report(options.revoke, findings);
  if (options.json) {
    const items = findings.map(({ token: _secret, ...rest }) => rest);
    console.log(JSON.stringify({ findings: items, scannedFiles: files.length, skippedBinary: binary, skippedTooLarge: tooLarge, skippedUnreadable: unreadable, reported: reported ?? null }, null, 2));
  } else {
    for (const f of findings) console.log(`${f.file}:${f.line}:${f.column}  ${f.hint}`);
    const where = new Set(findings.map((f) => f.file)).size;
    const skipped = [[binary, 'binary'], [tooLarge, `over ${MAX_FILE_BYTES / 1024 / 1024} MiB`], [unreadable, 'unreadable']]
      .filter(([n]) => (n as number) > 0)
      .map(([n, why]) => `${n} ${why}`);
    const notScanned = skipped.length > 0 ? `; not scanned: ${skipped.join(', ')}` : '';
    console.error(
      findings.length === 0
        ? `no keyfob tokens in ${files.length} files (${prefixes.join(', ')})${notScanned}`
        : `found ${findings.length} keyfob token${findings.length === 1 ? '' : 's'} in ${where} file${where === 1 ? '' : 's'} (${files.length} files${notScanned})`,
    );
    if (reported !== undefined) console.error(`reported ${reported} token${reported === 1 ? '' : 's'} to ${options.revoke}: each one still active is now revoked`);
    else if (findings.length > 0) console.error('remove them, and revoke them (keyfob scan --revoke <server>, or in the console)');
  }
  return findings.length > 0 ? 1 : 0;
}

/** POSTs the distinct tokens to the server's public revocation endpoint; returns how many. */
async function report(server: string, findings: readonly Finding[]): Promise<number> {
  const tokens = [...new Set(findings.map((f) => f.token))];
  // Relative to the server's URL, which may have a path (keyfob behind a prefix).
  const url = new URL('credentials/revoke', server.endsWith('/') ? server : `${server}/`);
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    console.error(`warning: sending the tokens found to ${url.origin} over plain http`);
  }
  for (let from = 0; from < tokens.length; from += REPORT_CHUNK) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ credentials: tokens.slice(from, from + REPORT_CHUNK) }) });
    if (res.status !== 202) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  }
  return tokens.length;
}

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

/** "scanning [#########...........]  4,210 / 9,800 files" on stderr, redrawn at most every 100 ms. */
class ProgressBar {
  #last = 0;
  constructor(private readonly total: number) {}

  update(done: number): void {
    const now = Date.now();
    if (done < this.total && now - this.#last < 100) return;
    this.#last = now;
    const width = 30;
    const filled = this.total === 0 ? width : Math.round((done / this.total) * width);
    process.stderr.write(`\rscanning [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en')} / ${this.total.toLocaleString('en')} files`);
  }

  done(): void {
    process.stderr.write('\n');
  }
}
