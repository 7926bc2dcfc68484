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
 * The median ratio of each keyfob process (round r ran process r mod n): a process on these VMs
 * can run a fifth faster or slower than another of the same build for its whole life, which is
 * why the figures rotate through several (docs/PERFORMANCE.md, run S).
 */
function perProcess(processes, ratios) {
  return Array.from({ length: processes }, (_, p) => median(ratios.filter((_, r) => r % processes === p)));
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

/**
 * Alternating rounds of the keyfob endpoint and the bare server, in pairs. This VM's speed swings
 * from one second to the next, so each ratio is the median of the ratios of the two runs of a
 * pair (next to each other in time), not the ratio of medians taken seconds apart.
 */
async function compare(name, { targets, floorPort, referencePorts, seconds, rounds, connections, workDir, log }) {
  const referenceNames = Object.keys(referencePorts);
  // Floor and references answer the first keyfob process's request; they read no credentials.
  const other = { floor: floorPort, ...referencePorts };
  const load = (which, secs, r = 0) => {
    const { port, req } = which === 'target' ? targets[r % targets.length] : { port: other[which], req: targets[0].req };
    return loadRequest({ port, req, seconds: secs, connections, workDir });
  };
  // Warm-up: JIT, caches, connection setup; not recorded. Every keyfob process is warmed.
  for (let p = 0; p < targets.length; p++) checkClean(`${name} warm-up of keyfob process ${p + 1}`, await load('target', 5, p), 5);
  for (const which of ['floor', ...referenceNames]) checkClean(`${name} ${which} warm-up`, await load(which, 2), 2);
  const runs = Object.fromEntries(['target', 'floor', ...referenceNames].map((which) => [which, []]));
  for (let r = 0; r < rounds; r++) {
    // The floor and keyfob always run next to each other; the references before or after them.
    const order = r % 2 === 0 ? [...referenceNames, 'floor', 'target'] : ['target', 'floor', ...[...referenceNames].reverse()];
    for (const which of order) {
      const run = checkClean(`${name} ${which}`, await load(which, seconds, r), seconds);
      runs[which].push(run);
      const process = which === 'target' && targets.length > 1 ? ` (keyfob process ${(r % targets.length) + 1})` : '';
      log(`    ${name} ${which} round ${r + 1}${process}: ${Math.round(run.rps)} req/s, p99 ${run.p99Ms?.toFixed(2)} ms`);
    }
  }
  const { target, floor } = runs;
  return {
    perProcessRatios: perProcess(targets.length, pairedRatiosOf(target, floor, (x) => x.rps)),
    rps: median(target.map((x) => x.rps)),
    floorRps: median(floor.map((x) => x.rps)),
    ...pairedRatios(target, floor, (x) => x.rps),
    p99Ms: median(target.map((x) => x.p99Ms)),
    floorP99Ms: median(floor.map((x) => x.p99Ms)),
    p99Ratio: pairedRatio(target, floor, (x) => x.p99Ms),
    p50Ms: median(target.map((x) => x.p50Ms)),
    floorP50Ms: median(floor.map((x) => x.p50Ms)),
    references: Object.fromEntries(
      referenceNames.map((which) => [which, { rps: median(runs[which].map((x) => x.rps)), ...pairedRatios(runs[which], floor, (x) => x.rps) }]),
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

/**
 * @returns {Promise<{ self?, introspect?, exchange?, besideExchange?, generator, connections, seconds, processes }>} each figure, or `{ error }`
 */
export async function httpFigures({ store, seconds, rounds, connections, processes = 1, workDir, which, references, log }) {
  const out = { generator: loadGenerator, connections, seconds, rounds, processes, serverCore: SERVER_CORE, loadCore: LOAD_CORE, references };
  // Copied before any process opens the store.
  const stores = [store, ...Array.from({ length: processes - 1 }, (_, i) => copyStore(store, workDir, i + 1))];
  const keyfobs = [];
  let floorServer;
  const referenceServers = {};
  try {
    for (const each of stores) keyfobs.push(await startServer({ kind: 'keyfob', store: each }, { core: SERVER_CORE }));
    const reqsOf = keyfobs.map((keyfob) => requests(keyfob));
    const reqs = reqsOf[0];
    const bodies = { [reqs.self.path]: await once(keyfobs[0].port, reqs.self), [reqs.introspect.path]: await once(keyfobs[0].port, reqs.introspect) };
    if (!JSON.parse(bodies[reqs.introspect.path]).active) throw new Error('introspection of a seeded token answered active: false');
    // Every process answers each request once before it is measured (its caches, as a running server's).
    for (let p = 0; p < keyfobs.length; p++) {
      if (p > 0) for (const name of ['self', 'introspect']) await once(keyfobs[p].port, reqsOf[p][name]);
      await once(keyfobs[p].port, reqsOf[p].exchange);
    }
    const targetsOf = (name) => keyfobs.map((keyfob, p) => ({ port: keyfob.port, req: reqsOf[p][name] }));
    // The floor answers the same bytes keyfob answered, for the same request.
    floorServer = await startServer({ kind: 'floor', bodies }, { core: SERVER_CORE });
    // Points of reference, measured in the same rounds (no target): what this machine gives a
    // server that does a little more than the floor, and what Fastify alone costs here.
    if (references) {
      referenceServers.hashMap = await startServer({ kind: 'hashMap', bodies, tokens: [benchToken(0), benchToken(1)] }, { core: SERVER_CORE });
      referenceServers.fastify = await startServer({ kind: 'fastify', bodies }, { core: SERVER_CORE });
    }
    const referencePorts = Object.fromEntries(Object.entries(referenceServers).map(([name, srv]) => [name, srv.port]));
    const common = { floorPort: floorServer.port, referencePorts, seconds, rounds, connections, workDir, log };
    for (const name of ['self', 'introspect']) {
      if (which.has(`http-${name}`)) out[name] = await orError(() => compare(name, { ...common, targets: targetsOf(name) }));
    }
    if (which.has('exchange')) {
      out.exchange = await orError(() => exchange({ targets: targetsOf('exchange'), fastifyPort: referencePorts.fastify, seconds, rounds, connections, workDir, log }));
    }
    if (which.has('http-beside-exchange')) {
      out.besideExchange = await orError(() => besideExchange({ port: keyfobs[0].port, reqs, seconds, rounds, connections, workDir, log }));
    }
  } finally {
    await Promise.all([...keyfobs.map((keyfob) => keyfob.stop()), floorServer?.stop(), ...Object.values(referenceServers).map((srv) => srv.stop())]);
  }
  return out;
}

/** Token exchange over HTTP vs jose SignJWT EdDSA in-process (pinned to the server's core), alternating. */
async function exchange({ targets, fastifyPort, seconds, rounds, connections, workDir, log }) {
  const load = (target, secs) => loadRequest({ port: target.port, req: target.req, seconds: secs, connections, workDir });
  for (let p = 0; p < targets.length; p++) checkClean(`exchange warm-up of keyfob process ${p + 1}`, await load(targets[p], 4), 4);
  const bareFastify = fastifyPort === undefined ? undefined : { port: fastifyPort, req: targets[0].req };
  if (bareFastify !== undefined) checkClean('bare Fastify exchange warm-up', await load(bareFastify, 2), 2);
  const target = [];
  const floor = [];
  const fastify = [];
  for (let r = 0; r < rounds; r++) {
    const jose = await runChild('fig-jose.mjs', { ms: Math.max(2000, seconds * 500), concurrency: connections }, { core: SERVER_CORE, workDir, timeoutMs: 60_000 });
    floor.push(jose);
    const run = checkClean('exchange', await load(targets[r % targets.length], seconds), seconds);
    target.push(run);
    // After keyfob's run, so that keyfob's stays next to the jose floor it is compared with.
    const bare = bareFastify === undefined ? undefined : checkClean('bare Fastify exchange', await load(bareFastify, seconds), seconds);
    if (bare) fastify.push(bare);
    log(`    exchange round ${r + 1}${targets.length > 1 ? ` (keyfob process ${(r % targets.length) + 1})` : ''}: ${Math.round(run.rps)} req/s (p99 ${run.p99Ms?.toFixed(1)} ms); jose ${Math.round(jose.signsPerSec)} signs/s${bare ? `; bare Fastify ${Math.round(bare.rps)} req/s` : ''}`);
  }
  // Signatures per second as the rate of each round's floor, beside the requests per second.
  const floorRates = floor.map((x) => ({ rps: x.signsPerSec }));
  const rps = (x) => x.rps;
  return {
    perProcessRatios: perProcess(targets.length, pairedRatiosOf(target, floorRates, rps)),
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
