// Figure 7: revocation propagation between two keyfob instances on one PostgreSQL database.
// Each round: B verifies a token (so B has it cached), A revokes it (RFC 7009, A's client), and
// the clock runs from A's answer until B refuses the token (B polled back to back).
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { benchToken } from './lib.mjs';
import { runChild, startServer } from './proc.mjs';
import { createPgDatabase, dropPgDatabase } from './seed.mjs';

const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function status(url, init) {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res.status;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** @returns {Promise<{ revocations, p50Ms, p99Ms, maxMs, meanMs, pollsPerRevocation }>} */
export async function propagationFigure({ pgUrl, workDir, revocations, log }) {
  const name = `keyfob_bench_prop_${randomBytes(4).toString('hex')}`;
  const url = await createPgDatabase(pgUrl, name);
  const servers = [];
  try {
    const dir = join(workDir, 'pg-propagation');
    mkdirSync(dir);
    const store = await runChild('seed.mjs', { kind: 'postgres', url, dir, count: revocations, budgetMs: 120_000 }, { workDir });
    // Both instances on core 0, the driver on this (unpinned) process: the figure is about the
    // NOTIFY path, not about CPU.
    servers.push(await startServer({ kind: 'keyfob', store }, { core: 0 }));
    servers.push(await startServer({ kind: 'keyfob', store }, { core: 0 }));
    const [a, b] = servers;
    const revokeHeaders = { authorization: basic(a.clientId, a.clientSecret), 'content-type': 'application/x-www-form-urlencoded' };
    const samples = [];
    let polls = 0;
    for (let i = 0; i < store.count; i++) {
      const token = benchToken(i);
      const self = `http://127.0.0.1:${b.port}/api/v1/tokens/self`;
      const asBearer = { headers: { authorization: `Bearer ${token}` } };
      if ((await status(self, asBearer)) !== 200) throw new Error(`token ${i} did not verify on B before its revocation`);
      const revoked = await status(`http://127.0.0.1:${a.port}/oauth/revoke`, { method: 'POST', headers: revokeHeaders, body: new URLSearchParams({ token }).toString() });
      if (revoked !== 200) throw new Error(`A answered ${revoked} to the revocation of token ${i}`);
      const started = performance.now();
      for (;;) {
        polls++;
        const s = await status(self, asBearer);
        if (s === 401) break;
        if (s !== 200) throw new Error(`B answered ${s} while the revocation of token ${i} propagated`);
        if (performance.now() - started > 10_000) throw new Error(`B still accepted token ${i} 10 s after its revocation on A`);
      }
      samples.push(performance.now() - started);
      if ((i + 1) % 250 === 0) log(`    ${i + 1} revocations`);
    }
    const sorted = [...samples].sort((x, y) => x - y);
    return {
      revocations: samples.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted[sorted.length - 1],
      meanMs: samples.reduce((x, y) => x + y, 0) / samples.length,
      pollsPerRevocation: polls / samples.length,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await dropPgDatabase(pgUrl, name).catch((e) => log(`  could not drop ${name}: ${e.message}`));
  }
}
