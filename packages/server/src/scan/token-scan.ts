import { open } from 'node:fs/promises';
import { displayHintOf, findTokens } from '@keyfob/protocol';

/** A token found in a file. `token` is for reporting it to a server, never for printing. */
export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly hint: string;
  readonly token: string;
}

export type FileScan = { readonly kind: 'text'; readonly findings: readonly Finding[] } | { readonly kind: 'binary' } | { readonly kind: 'too_large' };

/** Bytes read to decide that a file is binary: a NUL among them, as git decides. */
const SNIFF_BYTES = 8000;
/** Larger files are skipped: secrets live in source and configuration, not in data dumps. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export async function scanFile(path: string, prefixes: readonly string[]): Promise<FileScan> {
  const handle = await open(path, 'r');
  let content: Buffer;
  try {
    const { size } = await handle.stat();
    if (size > MAX_FILE_BYTES) return { kind: 'too_large' };
    content = await handle.readFile();
  } finally {
    await handle.close();
  }
  if (content.subarray(0, SNIFF_BYTES).includes(0)) return { kind: 'binary' };
  return { kind: 'text', findings: findingsIn(path, content.toString('utf8'), prefixes) };
}

/** Tokens in `text` with 1-based line and column numbers. */
export function findingsIn(file: string, text: string, prefixes: readonly string[]): Finding[] {
  const found = findTokens(text, prefixes);
  const findings: Finding[] = [];
  let line = 1;
  let lineStart = 0;
  let scanned = 0;
  for (const { token, index } of found) {
    for (let i = text.indexOf('\n', scanned); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    scanned = index;
    findings.push({ file, line, column: index - lineStart + 1, hint: displayHintOf(token), token });
  }
  return findings;
}
