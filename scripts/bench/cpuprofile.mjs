// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function, inclusive time of
// the functions on the hot path, and self time grouped by where the code lives.
import { readFileSync } from 'node:fs';

function shortUrl(url) {
  if (!url) return '(native)';
  return url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '')
    .replace(/.*\/packages\/server\/dist\//, 'keyfob:')
    .replace(/.*\/packages\/protocol\/dist\//, 'protocol:')
    .replace(/.*\/scripts\/bench\//, 'bench:');
}

function area(url) {
  if (!url) return 'native / VM (GC, idle, program)';
  if (url.includes('/packages/server/dist/')) return 'keyfob (server dist)';
  if (url.includes('/packages/protocol/')) return 'keyfob protocol (token format)';
  if (url.includes('/node_modules/kysely/')) return 'kysely (query building, driver)';
  if (url.includes('/node_modules/better-sqlite3/')) return 'better-sqlite3 (prepare, step, rows)';
  if (url.includes('/node_modules/pg')) return 'pg driver';
  if (url.includes('/node_modules/prom-client/')) return 'prom-client (metrics)';
  if (url.includes('/node_modules/pino') || url.includes('/node_modules/@pinojs/') || url.includes('/node_modules/sonic-boom/')) return 'pino (request logging, redaction)';
  if (url.includes('/node_modules/fastify/') || url.includes('/node_modules/find-my-way/') || url.includes('/node_modules/@fastify/') || url.includes('/node_modules/avvio/')) return 'fastify (routing, hooks, serialization)';
  if (url.includes('/node_modules/jose/')) return 'jose (JWT)';
  if (url.includes('/node_modules/')) return 'other dependencies';
  if (url.startsWith('node:internal/crypto')) return 'node crypto (hash, HMAC, WebCrypto, random)';
  if (url.startsWith('node:internal/modules') || url === 'node:internal/vm') return 'module loading (start-up)';
  if (url.startsWith('node:')) return 'node core (http, net, streams, timers)';
  if (url.includes('/scripts/bench/')) return 'bench loop';
  return 'other';
}

/**
 * @param {string} file a .cpuprofile
 * @param {{ top?: number, focus?: string[] }} options focus: function names whose inclusive time to report
 */
export function summarise(file, { top = 15, focus = [] } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = new Map();
  for (const id of profile.samples) samples.set(id, (samples.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const idle = [...samples].filter(([id]) => nodes.get(id).callFrame.functionName === '(idle)').reduce((a, [, c]) => a + c, 0);
  const busy = total - idle;

  const self = new Map();
  const areas = new Map();
  const inclusive = new Map(focus.map((f) => [f, 0]));
  for (const [id, count] of samples) {
    const { callFrame } = nodes.get(id);
    if (callFrame.functionName === '(idle)') continue;
    const key = `${callFrame.functionName || '(anonymous)'}  ${shortUrl(callFrame.url)}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + count);
    const a = area(callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + count);
    // Inclusive: count the sample once for each focus function on its stack.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const name = nodes.get(cur).callFrame.functionName;
      if (inclusive.has(name) && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, inclusive.get(name) + count);
      }
    }
  }
  const pct = (c) => (100 * c) / busy;
  return {
    samples: total,
    busySamples: busy,
    intervalUs: (profile.endTime - profile.startTime) / total,
    topSelf: [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([frame, c]) => ({ frame, selfPct: Number(pct(c).toFixed(1)) })),
    byArea: [...areas].sort((a, b) => b[1] - a[1]).map(([name, c]) => ({ area: name, selfPct: Number(pct(c).toFixed(1)) })),
    inclusive: [...inclusive].map(([fn, c]) => ({ function: fn, inclusivePct: Number(pct(c).toFixed(1)) })),
  };
}

export function formatSummary(title, s) {
  const lines = [`${title}: ${s.busySamples} busy samples of ${s.samples} (~${s.intervalUs.toFixed(0)} µs each)`, '  top frames by self time (% of busy time):'];
  for (const t of s.topSelf) lines.push(`    ${t.selfPct.toFixed(1).padStart(5)}%  ${t.frame}`);
  lines.push('  self time by area:');
  for (const a of s.byArea) lines.push(`    ${a.selfPct.toFixed(1).padStart(5)}%  ${a.area}`);
  if (s.inclusive.length) {
    lines.push('  inclusive time of hot-path functions:');
    for (const f of s.inclusive) lines.push(`    ${f.inclusivePct.toFixed(1).padStart(5)}%  ${f.function}`);
  }
  return lines.join('\n');
}
