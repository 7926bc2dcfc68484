// Child processes of the benchmark: pinning with taskset, figure children that write a JSON
// result, server children that report their port over IPC, and the load generator (wrk when
// installed, otherwise autocannon from the root devDependencies).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, ROOT } from './lib.mjs';

export function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

const TASKSET = hasCommand('taskset');
export const pinning = { taskset: TASKSET };

/** [command, args] run on `core` when taskset exists (otherwise unpinned). */
export function pinned(core, command, args) {
  return TASKSET && core !== undefined ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
}

/**
 * Runs scripts/bench/<script> as a child (on `core`) with `args` as JSON and returns the JSON it
 * wrote. Killed (and rejected) after `timeoutMs`.
 */
export function runChild(script, args, { core, timeoutMs = 300_000, nodeFlags = [], workDir }) {
  const out = join(workDir, `result-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const [cmd, argv] = pinned(core, process.execPath, [...nodeFlags, join(BENCH_DIR, script), JSON.stringify({ ...args, out })]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.mode ?? ''} ran past its ${Math.round(timeoutMs / 1000)} s bound and was stopped`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} ${args.mode ?? ''} exited with ${code ?? signal}`));
      try {
        const result = JSON.parse(readFileSync(out, 'utf8'));
        rmSync(out, { force: true });
        resolve(result);
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Starts servers.mjs on `core`; resolves with its IPC hello and a stop() function. */
export function startServer(args, { core, timeoutMs = 60_000, nodeFlags = [] }) {
  const [cmd, argv] = pinned(core, process.execPath, [...nodeFlags, join(BENCH_DIR, 'servers.mjs'), JSON.stringify(args)]);
  // The server's stdout (its request log) goes to /dev/null unless BENCH_SERVER_STDOUT=1.
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', process.env.BENCH_SERVER_STDOUT ? 'inherit' : 'ignore', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.kind} server did not start within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.kind} server exited with ${code} before listening`));
    });
    child.once('message', (hello) => {
      clearTimeout(timer);
      resolve({
        ...hello,
        pid: child.pid,
        async stop() {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}

/** wrk when installed (BENCH_LOAD_GENERATOR=autocannon forces the fallback). */
export const loadGenerator = process.env.BENCH_LOAD_GENERATOR === 'autocannon' || !hasCommand('wrk') ? 'autocannon' : 'wrk';

function parseWrkDuration(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return null;
  const v = Number(m[1]);
  return { us: v / 1000, ms: v, s: v * 1000, m: v * 60_000 }[m[2]];
}

function luaString(s) {
  return JSON.stringify(s);
}

/**
 * One load run on core `core` for `seconds`: closed loop, `connections` keep-alive connections.
 * Returns requests/s, latency percentiles (ms) and the count of non-2xx answers and errors.
 */
export async function runLoad({ url, method = 'GET', headers = {}, body, seconds, connections, core, workDir }) {
  if (loadGenerator === 'wrk') {
    const lua = join(workDir, `wrk-${process.pid}-${Math.random().toString(36).slice(2)}.lua`);
    const lines = [`wrk.method = ${luaString(method)}`];
    if (body !== undefined) lines.push(`wrk.body = ${luaString(body)}`);
    for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
    writeFileSync(lua, lines.join('\n') + '\n');
    const [cmd, argv] = pinned(core, 'wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', '-s', lua, url]);
    const out = await capture(cmd, argv, (seconds + 30) * 1000);
    rmSync(lua, { force: true });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const pct = (p) => {
      const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
      return m ? parseWrkDuration(m[1]) : null;
    };
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
    if (!Number.isFinite(rps)) throw new Error(`could not read wrk's output:\n${out}`);
    return { rps, p50Ms: pct(50), p99Ms: pct(99), non2xx, errors };
  }
  const bin = join(ROOT, 'node_modules/autocannon/autocannon.js');
  const argv = ['-c', String(connections), '-d', String(seconds), '-j', '-m', method];
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}=${v}`);
  if (body !== undefined) argv.push('-b', body);
  argv.push('-t', '10', url);
  const [cmd, cargv] = pinned(core, process.execPath, [bin, ...argv]);
  const out = await capture(cmd, cargv, (seconds + 30) * 1000);
  const json = JSON.parse(out.slice(out.indexOf('{')));
  return {
    rps: json.requests.average,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    non2xx: json.non2xx ?? 0,
    errors: (json.errors ?? 0) + (json.timeouts ?? 0),
  };
}

function capture(cmd, argv, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code}: ${err.slice(-500)}`));
      else resolve(out);
    });
  });
}
