import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SECRET_FILE_NAME = 'secret';

/**
 * Returns the master secret kept in `<dataDir>/secret`, creating it (mode 0600) on first start.
 * Used only when KEYFOB_SECRET is not set, which is the embedded single-instance default.
 */
export function readOrCreateSecretFile(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, SECRET_FILE_NAME);
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(48).toString('base64url') + '\n');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // A copied or restored file may have lost its mode; the secret must never be world-readable.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const secret = readFileSync(path, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${path} holds a secret shorter than 32 characters`);
  return secret;
}
