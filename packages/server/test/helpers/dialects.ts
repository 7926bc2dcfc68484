import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  /** DATABASE_URL for this database. */
  readonly url: string;
  /** A scratch folder (data dir). */
  readonly dir: string;
  drop(): Promise<void>;
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  readonly available: boolean;
  create(): Promise<TestDatabase>;
}

const PG_URL = process.env['TEST_DATABASE_URL'];
if (!PG_URL) {
  console.warn('TEST_DATABASE_URL is not set: the PostgreSQL variants of the suites are skipped');
}

const PG_TIMEZONE = (process.env['TEST_PG_TIMEZONE'] ?? 'Pacific/Kiritimati').replace(/[^A-Za-z0-9_/+-]/g, '');

function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'keyfob-test-'));
}

/** Runs one statement on the server's maintenance database (CREATE/DROP DATABASE). */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export function databaseUrlFor(name: string): string {
  const url = new URL(PG_URL!);
  url.pathname = `/${name}`;
  return url.toString();
}

export const sqlite: Dialect = {
  name: 'sqlite',
  available: true,
  async create() {
    const dir = scratchDir();
    return { url: `sqlite:${join(dir, 'keyfob.db')}`, dir, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

export const postgres: Dialect = {
  name: 'postgres',
  available: Boolean(PG_URL),
  async create() {
    const name = `keyfob_test_${randomBytes(6).toString('hex')}`;
    await admin(`create database ${name}`);
    // keyfob's sessions must not depend on the server's time zone: test databases run in one
    // far from UTC (+14 h), or in TEST_PG_TIMEZONE.
    await admin(`alter database ${name} set timezone = '${PG_TIMEZONE}'`);
    const dir = scratchDir();
    return {
      url: databaseUrlFor(name),
      dir,
      drop: async () => {
        rmSync(dir, { recursive: true, force: true });
        await admin(`drop database if exists ${name} with (force)`);
      },
    };
  },
};

/** Every suite that touches the store runs once per dialect; PostgreSQL skips without TEST_DATABASE_URL. */
export const DIALECTS: readonly Dialect[] = [sqlite, postgres];
