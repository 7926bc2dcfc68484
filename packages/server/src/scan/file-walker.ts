import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';

interface IgnoreRules {
  /** The folder the .gitignore sits in: its patterns are relative to it. */
  readonly base: string;
  readonly rules: Ignore;
}

/** Folders never worth scanning (a repository's own object store). */
const ALWAYS_SKIPPED = new Set(['.git']);

/**
 * Every regular file under `roots`, in a stable order. Folders honour the `.gitignore` files
 * on their way down (a deeper file can re-include what a shallower one ignored); a file named
 * on the command line is always listed. Symbolic links are not followed.
 */
export async function listFiles(roots: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const root of roots) {
    const info = await lstat(root);
    if (info.isFile()) files.push(root);
    else if (info.isDirectory()) await walk(root, [], files);
  }
  return files;
}

async function walk(dir: string, inherited: readonly IgnoreRules[], out: string[]): Promise<void> {
  const own = await readIgnoreFile(dir);
  const rules = own === undefined ? inherited : [...inherited, own];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!ALWAYS_SKIPPED.has(entry.name) && !isIgnored(rules, path, true)) await walk(path, rules, out);
    } else if (entry.isFile() && !isIgnored(rules, path, false)) {
      out.push(path);
    }
  }
}

async function readIgnoreFile(dir: string): Promise<IgnoreRules | undefined> {
  try {
    return { base: dir, rules: ignore().add(await readFile(join(dir, '.gitignore'), 'utf8')) };
  } catch {
    return undefined;
  }
}

function isIgnored(rules: readonly IgnoreRules[], path: string, isDir: boolean): boolean {
  let ignored = false;
  for (const { base, rules: r } of rules) {
    const rel = relative(base, path).split(sep).join('/') + (isDir ? '/' : '');
    const result = r.test(rel);
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}
