// Development aid: one HTTP figure against the current build, quickly (no seeding of big stores).
//   node scripts/bench/try-http.mjs self|introspect|exchange [seconds] [--prof]
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { requests } from './fig-http.mjs';
import { runChild, runLoad, startServer } from './proc.mjs';
import { formatSummary, summarise } from './cpuprofile.mjs';

const [name = 'self', secondsArg = '5'] = process.argv.slice(2);
const prof = process.argv.includes('--prof');
const seconds = Number(secondsArg);
const workDir = mkdtempSync(join(os.tmpdir(), 'keyfob-try-'));
const dir = join(workDir, 'store');
mkdirSync(dir);
const store = await runChild('seed.mjs', { kind: 'sqlite', count: 1000, dir }, { workDir });
const profDir = join(workDir, 'prof');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('KEYFOB_')));
const keyfob = await startServer({ kind: 'keyfob', store, env }, { core: 0, nodeFlags: prof ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] });
const floor = await startServer({ kind: 'floor', bodies: { '/x': '{}' } }, { core: 0 });
try {
  const req = name === 'x' ? { path: '/x', method: 'GET', headers: {} } : requests(keyfob)[name];
  const load = (port, path, secs) => runLoad({ url: `http://127.0.0.1:${port}${path}`, method: req.method, headers: req.headers, body: req.body, seconds: secs, connections: 50, core: 1, workDir });
  await load(keyfob.port, req.path, 2);
  await load(floor.port, '/x', 2);
  for (let r = 0; r < 2; r++) {
    const k = await load(process.env.TRY_PORT ? Number(process.env.TRY_PORT) : keyfob.port, req.path, seconds);
    const f = await load(floor.port, '/x', seconds);
    console.log(`${name}: keyfob ${Math.round(k.rps)} req/s p99 ${k.p99Ms} ms (non-2xx ${k.non2xx}); floor ${Math.round(f.rps)} req/s p99 ${f.p99Ms} ms; ratio ${(k.rps / f.rps).toFixed(2)}`);
  }
} finally {
  await Promise.all([keyfob.stop(), floor.stop()]);
  if (prof) {
    const file = join(profDir, readdirSync(profDir).find((f) => f.endsWith('.cpuprofile')));
    console.log(formatSummary('profile', summarise(file, { top: 25 })));
    copyFileSync(file, join(os.tmpdir(), `keyfob-try-${name}.cpuprofile`));
  }
  rmSync(workDir, { recursive: true, force: true });
}
