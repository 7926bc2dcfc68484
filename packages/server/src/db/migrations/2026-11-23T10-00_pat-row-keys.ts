import { SqliteAdapter, sql, type Kysely } from 'kysely';

// Frozen in time: on SQLite, moves each token's row to the rowid its hash keys (the first 13 hex
// digits of token_hash, as repositories/pat-lookup-rows.ts rowKeyOf computes them today), so that the
// verification lookup is one seek in the table. PostgreSQL has no rowid; nothing changes there.
// A row whose key is already taken stays where it is: the lookup finds it through token_hash.
// Idempotent: a row already at its key is left alone.

const CHUNK = 1000;

export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    // Kysely runs SQLite migrations outside a transaction: one per chunk, not one commit per row.
    const last = await db.transaction().execute(async (trx) => {
      const { rows } = await sql<{ rowid: number; token_hash: string }>`SELECT rowid, token_hash FROM pats WHERE rowid > ${after} ORDER BY rowid LIMIT ${CHUNK}`.execute(trx);
      for (const row of rows) {
        const key = parseInt(row.token_hash.slice(0, 13), 16);
        if (key === row.rowid) continue;
        // A row moved to a key past this chunk is met again later, already at its key.
        const { rows: taken } = await sql`SELECT 1 FROM pats WHERE rowid = ${key}`.execute(trx);
        if (taken.length === 0) await sql`UPDATE pats SET rowid = ${key} WHERE rowid = ${row.rowid}`.execute(trx);
      }
      return rows.at(-1)?.rowid;
    });
    if (last === undefined) return;
    after = last;
  }
}

export async function down(): Promise<void> {
  // Rowids carry no meaning the earlier schema relied on.
}
