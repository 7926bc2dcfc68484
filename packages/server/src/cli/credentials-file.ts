import { mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `keyfob login` keeps for the client commands. */
export interface SavedLogin {
  readonly server: string;
  readonly token: string;
}

/** `KEYFOB_CLI_CONFIG`, else `$XDG_CONFIG_HOME/keyfob/credentials.json`, else `~/.config/keyfob/credentials.json`. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['KEYFOB_CLI_CONFIG']) return env['KEYFOB_CLI_CONFIG'];
  return join(env['XDG_CONFIG_HOME'] || join(homedir(), '.config'), 'keyfob', 'credentials.json');
}

export function readSavedLogin(path = credentialsPath()): SavedLogin | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(text) as Partial<SavedLogin>;
  if (typeof parsed.server !== 'string' || typeof parsed.token !== 'string') throw new Error(`${path} is not a keyfob login file; run keyfob login again`);
  return { server: parsed.server, token: parsed.token };
}

/** Written readable by the owner only: it holds a token. */
export function writeSavedLogin(login: SavedLogin, path = credentialsPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export function removeSavedLogin(path = credentialsPath()): boolean {
  try {
    rmSync(path);
    return true;
  } catch {
    return false;
  }
}
