// Two builds of keyfob side by side: `node scripts/bench/side-by-side.mjs <other checkout> [self,introspect,exchange]`.
// Starts BENCH_SIDE_PROCESSES keyfob processes of each build (default 3) on core 0, each on its own
// copy of a 1,000-token SQLite store, and loads each in turn with wrk (or autocannon) on core 1:
// a warm-up of 4 s, then BENCH_SIDE_ROUNDS rounds (default 4) of BENCH_SIDE_SECONDS (default 2)
// per process, the order reversed every other round. Prints each process's median requests per
// second and the ratio of this checkout's median over all its runs to the other's.
//
// One process per build is not a sample on these VMs: a keyfob process can run a fifth faster or
// slower than another of the same build for its whole life (docs/PERFORMANCE.md, runs S and U).
// The other checkout needs its own `npm run build` (its servers.mjs imports its own dist).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ROOT, envNumber, median } from './lib.mjs';
import { pinned, runChild, runLoad } from './proc.mjs';
import { requests } from './fig-http.mjs';

const [otherArg, whichArg = 'self,introspect,exchange'] = process.argv.slice(2);
if (!otherArg) {
  console.error('usage: node scripts/bench/side-by-side.mjs <other checkout> [self,introspect,exchange]');
  process.exit(2);
}
const builds = { other: resolve(otherArg), this: ROOT };
const processes = Math.max(1, Math.floor(envNumber('BENCH_SIDE_PROCESSES', 3)));
const rounds = Math.max(1, Math.floor(envNumber('BENCH_SIDE_ROUNDS', 4)));
const seconds = envNumber('BENCH_SIDE_SECONDS', 2);
const which = whichArg.split(',');

const workDir = mkdtempSync(join(os.tmpdir(), 'keyfob-side-by-side-'));
const store = await runChild('seed.mjs', { kind: 'sqlite', count: 1000, dir: join(workDir, 'store') }, { workDir });
let copies = 0;
/** A copy of the store for one more process (each holds its data folder's lock). */
function copyStore() {
  const dir = join(workDir, `process-${copies++}`);
  mkdirSync(dir, { recursive: true });
  const file = store.url.replace(/^sqlite:/, '');
  for (const name of readdirSync(dirname(file))) if (name.startsWith(basename(file))) copyFileSync(join(dirname(file), name), join(dir, name));
  return { ...store, dir, url: `sqlite:${join(dir, basename(file))}` };
}

/** A keyfob server of one build, by that build's own servers.mjs. */
function start(build) {
  const [cmd, argv] = pinned(0, process.execPath, [join(builds[build], 'scripts/bench/servers.mjs'), JSON.stringify({ kind: 'keyfob', store: copyStore() })]);
  const child = spawn(cmd, argv, { cwd: builds[build], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolveStart, reject) => {
    child.once('message', (hello) => resolveStart({ ...hello, build, child, rps: {} }));
    child.once('exit', (code) => reject(new Error(`a keyfob server of ${builds[build]} exited with ${code} before listening`)));
  });
}

const servers = [];
try {
  for (let p = 0; p < processes; p++) for (const build of ['other', 'this']) servers.push(await start(build));
  const load = (server, name, secs) => {
    const req = requests(server)[name];
    return runLoad({ url: `http://127.0.0.1:${server.port}${req.path}`, method: req.method, headers: req.headers, body: req.body, seconds: secs, connections: 50, core: 1, workDir });
  };
  for (const name of which) {
    for (const server of servers) {
      const warm = await load(server, name, 4);
      if (warm.non2xx > 0) throw new Error(`${name} on ${builds[server.build]}: ${warm.non2xx} non-2xx answers in the warm-up`);
    }
    for (let r = 0; r < rounds; r++) {
      for (const server of r % 2 === 0 ? servers : [...servers].reverse()) (server.rps[name] ??= []).push((await load(server, name, seconds)).rps);
    }
    const all = (build) => median(servers.filter((s) => s.build === build).flatMap((s) => s.rps[name]));
    for (const build of ['other', 'this']) {
      const each = servers.filter((s) => s.build === build).map((s) => Math.round(median(s.rps[name])));
      console.log(`${name} ${build} (${builds[build]}): per process ${each.join(', ')}; median of all runs ${Math.round(all(build))} req/s`);
    }
    console.log(`${name}: this / other = ${(all('this') / all('other')).toFixed(3)}`);
  }
} finally {
  for (const server of servers) server.child.kill();
  rmSync(workDir, { recursive: true, force: true });
}
