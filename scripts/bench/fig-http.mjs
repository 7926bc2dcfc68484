// HTTP figures (4: verification over HTTP vs a bare node:http server; 5: token exchange vs jose
// signing in-process). Runs in the orchestrator: servers on core 0, load generator on core 1.
import { PAT_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '@keyfob/protocol';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BENCH_AUDIENCE, benchToken, median } from './lib.mjs';
import { loadGenerator, runChild, runLoad, startServer } from './proc.mjs';

const SERVER_CORE = 0;
const LOAD_CORE = 1;

function basic(id, secret) {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

const form = (params) => new URLSearchParams(params).toString();

/** The requests of the figures, against a keyfob server's client credentials. */
export function requests(hello) {
  const auth = basic(hello.clientId, hello.clientSecret);
  const formType = 'application/x-www-form-urlencoded';
  return {
    self: { path: '/api/v1/tokens/self', method: 'GET', headers: { authorization: `Bearer ${benchToken(0)}` } },
    introspect: {
      path: '/oauth/introspect',
      method: 'POST',
      headers: { authorization: auth, 'content-type': formType },
      body: form({ token: benchToken(1) }),
    },
    exchange: {
      path: '/oauth/token',
      method: 'POST',
      headers: { authorization: auth, 'content-type': formType },
      body: form({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: benchToken(2), subject_token_type: PAT_TOKEN_TYPE, audience: BENCH_AUDIENCE }),
    },
  };
}

/** `wrk` (or autocannon) on the load core against one of the requests above on a local port. */
function loadRequest({ port, req, seconds, connections, workDir }) {
  return runLoad({ url: `http://127.0.0.1:${port}${req.path}`, method: req.method, headers: req.headers, body: req.body, seconds, connections, core: LOAD_CORE, workDir });
}

/**
 * The median over rounds of target/floor, each pair measured next to each other, and the lowest
 * and highest round's ratio (how far one round can stray).
 */
function pairedRatiosOf(target, floor, value) {
  return target.map((x, i) => value(x) / value(floor[i]));
}

function pairedRatios(target, floor, value) {
  const ratios = pairedRatiosOf(target, floor, value);
  return { ratio: median(ratios), ratioRange: [Math.min(...ratios), Math.max(...ratios)] };
}

/**
 * The median ratio of each keyfob process (`processOf[r]` ran round r): a process on these VMs can
 * run a fifth faster or slower than another of the same build for its whole life, which is why
 * the figures go through several (docs/PERFORMANCE.md, runs S and U).
 */
export function perProcess(processes, processOf, ratios) {
  return Array.from({ length: processes }, (_, p) => median(ratios.filter((_, r) => processOf[r] === p)));
}

function pairedRatio(target, floor, value) {
  return pairedRatios(target, floor, value).ratio;
}

async function once(port, req) {
  const res = await fetch(`http://127.0.0.1:${port}${req.path}`, { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${req.method} ${req.path} answered ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

/** A run with any non-2xx answer, or socket errors past 0.1 % of requests, does not count. */
function checkClean(name, run, seconds = 1) {
  if (run.non2xx > 0 || run.errors > Math.max(1, run.rps * seconds * 0.001)) {
    throw new Error(`${name}: ${run.non2xx} non-2xx answers and ${run.errors} socket errors (timeouts included) during the run`);
  }
  return run;
}

/** Each server's runs of one figure so far, round by round, and the keyfob process of each round. */
function newRuns(names) {
  return { process: [], ...Object.fromEntries(names.map((which) => [which, []])) };
}

/**
 * Rounds `from` to `to` of one figure on one set of servers: the keyfob endpoint and the bare
 * server in alternating pairs. This VM's speed swings from one second to the next, so each ratio
 * is the median of the ratios of the two runs of a pair (next to each other in time), not the
 * ratio of medians taken seconds apart.
 */
async function compareRounds(name, { set, from, to, seconds, connections, workDir, log }, runs) {
  const referenceNames = Object.keys(set.referencePorts);
  const ports = { target: set.keyfob.port, floor: set.floorPort, ...set.referencePorts };
  // The floor and the references answer keyfob's bytes whatever the request holds.
  const load = (which, secs) => loadRequest({ port: ports[which], req: set.reqs[name], seconds: secs, connections, workDir });
  // Warm-up: JIT, caches, connection setup; not recorded.
  checkClean(`${name} warm-up of keyfob process ${set.index + 1}`, await load('target', 5), 5);
  for (const which of ['floor', ...referenceNames]) checkClean(`${name} ${which} warm-up`, await load(which, 2), 2);
  for (let r = from; r < to; r++) {
    // The floor and keyfob always run next to each other; the references before or after them.
    const order = r % 2 === 0 ? [...referenceNames, 'floor', 'target'] : ['target', 'floor', ...[...referenceNames].reverse()];
    for (const which of order) {
      const run = checkClean(`${name} ${which}`, await load(which, seconds), seconds);
      runs[which].push(run);
      log(`    ${name} ${which} round ${r + 1}${set.label}: ${Math.round(run.rps)} req/s, p99 ${run.p99Ms?.toFixed(2)} ms`);
    }
    runs.process.push(set.index);
  }
}

function summariseCompare(runs, processes) {
  const { process, target, floor, ...references } = runs;
  return {
    perProcessRatios: perProcess(processes, process, pairedRatiosOf(target, floor, (x) => x.rps)),
    rps: median(target.map((x) => x.rps)),
    floorRps: median(floor.map((x) => x.rps)),
    ...pairedRatios(target, floor, (x) => x.rps),
    p99Ms: median(target.map((x) => x.p99Ms)),
    floorP99Ms: median(floor.map((x) => x.p99Ms)),
    p99Ratio: pairedRatio(target, floor, (x) => x.p99Ms),
    p50Ms: median(target.map((x) => x.p50Ms)),
    floorP50Ms: median(floor.map((x) => x.p50Ms)),
    references: Object.fromEntries(
      Object.entries(references).map(([which, refRuns]) => [which, { rps: median(refRuns.map((x) => x.rps)), ...pairedRatios(refRuns, floor, (x) => x.rps) }]),
    ),
    rounds: runs,
  };
}

/** Profiles the keyfob server (node --cpu-prof) under `seconds` of load on one endpoint. */
export async function profileServer({ store, name, seconds, connections, workDir, profDir }) {
  const keyfob = await startServer({ kind: 'keyfob', store }, { core: SERVER_CORE, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
  let run;
  try {
    const req = requests(keyfob)[name];
    await once(keyfob.port, req);
    run = await loadRequest({ port: keyfob.port, req, seconds, connections, workDir });
  } finally {
    await keyfob.stop();
  }
  return run;
}

/** One figure's result, or `{ error }` when its run failed: the other figures still run. */
function orError(run) {
  return run().catch((error) => ({ error: String(error.message ?? error) }));
}

/** A copy of a seeded SQLite store for one more keyfob process (each holds its data folder's lock). */
function copyStore(store, workDir, index) {
  const dir = join(workDir, `keyfob-process-${index}`);
  mkdirSync(dir, { recursive: true });
  const file = store.url.replace(/^sqlite:/, '');
  for (const name of readdirSync(dirname(file))) if (name.startsWith(basename(file))) copyFileSync(join(dirname(file), name), join(dir, name));
  return { ...store, dir, url: `sqlite:${join(dir, basename(file))}` };
}

/** Rounds [from, to) of `rounds` for process p of n: contiguous blocks, as even as they come. */
export function roundsOfProcess(p, n, rounds) {
  return { from: Math.floor((p * rounds) / n), to: Math.floor(((p + 1) * rounds) / n) };
}

/**
 * One keyfob process on its copy of the store, with a floor (and the reference servers) that
 * answer the bytes this process answered. `stop()` stops them all.
 */
async function startSet({ store, index, processes, references }) {
  const servers = [];
  const stop = () => Promise.all(servers.map((srv) => srv.stop()));
  try {
    const keyfob = await startServer({ kind: 'keyfob', store }, { core: SERVER_CORE });
    servers.push(keyfob);
    const reqs = requests(keyfob);
    const bodies = { [reqs.self.path]: await once(keyfob.port, reqs.self), [reqs.introspect.path]: await once(keyfob.port, reqs.introspect) };
    if (!JSON.parse(bodies[reqs.introspect.path]).active) throw new Error('introspection of a seeded token answered active: false');
    // The process answers each request once before it is measured (its caches, as a running server's).
    await once(keyfob.port, reqs.exchange);
    const floor = await startServer({ kind: 'floor', bodies }, { core: SERVER_CORE });
    servers.push(floor);
    // Points of reference, measured in the same rounds (no target): what this machine gives a
    // server that does a little more than the floor, and what Fastify alone costs here.
    const referencePorts = {};
    if (references) {
      for (const [kind, extra] of [['hashMap', { tokens: [benchToken(0), benchToken(1)] }], ['fastify', {}]]) {
        const srv = await startServer({ kind, bodies, ...extra }, { core: SERVER_CORE });
        servers.push(srv);
        referencePorts[kind] = srv.port;
      }
    }
    return { index, label: processes > 1 ? ` (keyfob process ${index + 1})` : '', keyfob, reqs, floorPort: floor.port, referencePorts, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The HTTP figures, their rounds shared out among `processes` keyfob processes run one after
 * another: each, with its own floor and reference servers, starts once the one before has stopped,
 * and measures its block of every figure's rounds. A figure then weighs several processes' luck
 * (docs/PERFORMANCE.md, run S), and no idle process runs its timers beside the measured one (run T).
 * @returns {Promise<{ self?, introspect?, exchange?, besideExchange?, generator, connections, seconds, processes }>} each figure, or `{ error }`
 */
export async function httpFigures({ store, seconds, rounds, connections, processes = 1, workDir, which, references, log }) {
  // A process with no round of its own would measure nothing.
  const n = Math.max(1, Math.min(processes, rounds));
  const out = { generator: loadGenerator, connections, seconds, rounds, processes: n, serverCore: SERVER_CORE, loadCore: LOAD_CORE, references };
  // Copied before any process opens the store.
  const stores = [store, ...Array.from({ length: n - 1 }, (_, i) => copyStore(store, workDir, i + 1))];
  const compared = ['self', 'introspect'].filter((name) => which.has(`http-${name}`));
  const runs = Object.fromEntries(compared.map((name) => [name, newRuns(['target', 'floor', ...(references ? ['hashMap', 'fastify'] : [])])]));
  runs.exchange = newRuns(['target', 'floor', 'fastify']);
  // A figure that failed on one process is not measured on the next.
  const failed = {};
  const measure = async (name, run) => {
    if (failed[name] === undefined) await run().catch((error) => (failed[name] = String(error.message ?? error)));
  };
  for (let p = 0; p < n; p++) {
    const { from, to } = roundsOfProcess(p, n, rounds);
    if (n > 1) log(`  keyfob process ${p + 1} of ${n}: ${to - from === 1 ? `round ${to}` : `rounds ${from + 1}–${to}`} of each figure`);
    const set = await startSet({ store: stores[p], index: p, processes: n, references });
    try {
      const common = { set, from, to, seconds, connections, workDir, log };
      for (const name of compared) await measure(name, () => compareRounds(name, common, runs[name]));
      if (which.has('exchange')) await measure('exchange', () => exchangeRounds(common, runs.exchange));
      if (which.has('http-beside-exchange') && p === n - 1) {
        out.besideExchange = await orError(() => besideExchange({ port: set.keyfob.port, reqs: set.reqs, seconds, rounds, connections, workDir, log }));
      }
    } finally {
      await set.stop();
    }
  }
  const result = (name, summarise) => (failed[name] !== undefined ? { error: failed[name] } : summarise(runs[name], n));
  for (const name of compared) out[name] = result(name, summariseCompare);
  if (which.has('exchange')) out.exchange = result('exchange', summariseExchange);
  return out;
}

/** Token exchange over HTTP vs jose SignJWT EdDSA in-process (pinned to the server's core), alternating. */
async function exchangeRounds({ set, from, to, seconds, connections, workDir, log }, runs) {
  const load = (port, secs) => loadRequest({ port, req: set.reqs.exchange, seconds: secs, connections, workDir });
  const fastifyPort = set.referencePorts.fastify;
  checkClean(`exchange warm-up of keyfob process ${set.index + 1}`, await load(set.keyfob.port, 4), 4);
  if (fastifyPort !== undefined) checkClean('bare Fastify exchange warm-up', await load(fastifyPort, 2), 2);
  for (let r = from; r < to; r++) {
    const jose = await runChild('fig-jose.mjs', { ms: Math.max(2000, seconds * 500), concurrency: connections }, { core: SERVER_CORE, workDir, timeoutMs: 60_000 });
    runs.floor.push(jose);
    const run = checkClean('exchange', await load(set.keyfob.port, seconds), seconds);
    runs.target.push(run);
    // After keyfob's run, so that keyfob's stays next to the jose floor it is compared with.
    const bare = fastifyPort === undefined ? undefined : checkClean('bare Fastify exchange', await load(fastifyPort, seconds), seconds);
    if (bare) runs.fastify.push(bare);
    runs.process.push(set.index);
    log(`    exchange round ${r + 1}${set.label}: ${Math.round(run.rps)} req/s (p99 ${run.p99Ms?.toFixed(1)} ms); jose ${Math.round(jose.signsPerSec)} signs/s${bare ? `; bare Fastify ${Math.round(bare.rps)} req/s` : ''}`);
  }
}

function summariseExchange(runs, processes) {
  const { process, target, floor, fastify } = runs;
  // Signatures per second as the rate of each round's floor, beside the requests per second.
  const floorRates = floor.map((x) => ({ rps: x.signsPerSec }));
  const rps = (x) => x.rps;
  return {
    perProcessRatios: perProcess(processes, process, pairedRatiosOf(target, floorRates, rps)),
    rps: median(target.map(rps)),
    floorSignsPerSec: median(floor.map((x) => x.signsPerSec)),
    ...pairedRatios(target, floorRates, rps),
    p99Ms: median(target.map((x) => x.p99Ms)),
    references: fastify.length === 0 ? {} : { fastify: { rps: median(fastify.map(rps)), ...pairedRatios(fastify, floorRates, rps) } },
    rounds: { target, floor, fastify },
  };
}

/**
 * Introspection while token exchanges run on the same server, against introspection alone, in
 * alternating pairs; half the connections each. An exchange waits for its audit event to reach
 * the disk: this shows whether the verifications served beside it wait too.
 */
async function besideExchange({ port, reqs, seconds, rounds, connections, workDir, log }) {
  const half = Math.max(1, Math.floor(connections / 2));
  const load = (req, secs) => loadRequest({ port, req, seconds: secs, connections: half, workDir });
  checkClean('introspection warm-up', await load(reqs.introspect, 2), 2);
  checkClean('exchange warm-up', await load(reqs.exchange, 2), 2);
  const alone = [];
  const beside = [];
  const exchanges = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['alone', 'beside'] : ['beside', 'alone'];
    for (const which of order) {
      if (which === 'alone') {
        alone.push(checkClean('introspection alone', await load(reqs.introspect, seconds), seconds));
        continue;
      }
      // The exchanges start first and end after: the introspection run is inside them throughout.
      const background = load(reqs.exchange, seconds + 1);
      // Awaited below; if the introspection run throws first, its failure must not go unhandled.
      background.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      beside.push(checkClean('introspection beside exchanges', await load(reqs.introspect, seconds), seconds));
      exchanges.push(checkClean('exchanges beside introspection', await background, seconds + 1));
    }
    log(`    beside exchanges round ${r + 1}: introspection ${Math.round(beside[r].rps)} req/s (p99 ${beside[r].p99Ms?.toFixed(2)} ms) with ${Math.round(exchanges[r].rps)} exchanges/s; alone ${Math.round(alone[r].rps)} req/s (p99 ${alone[r].p99Ms?.toFixed(2)} ms)`);
  }
  return {
    connectionsEach: half,
    rps: median(beside.map((x) => x.rps)),
    aloneRps: median(alone.map((x) => x.rps)),
    exchangesPerSec: median(exchanges.map((x) => x.rps)),
    p99Ms: median(beside.map((x) => x.p99Ms)),
    aloneP99Ms: median(alone.map((x) => x.p99Ms)),
    p99Ratio: pairedRatio(beside, alone, (x) => x.p99Ms),
    rounds: { beside, alone, exchanges },
  };
}
