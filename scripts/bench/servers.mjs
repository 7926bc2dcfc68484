// The two HTTP servers of the HTTP figures, each run as a child process (pinned to one core by
// the parent) that reports `{ port, ... }` over IPC when it listens:
//   node servers.mjs '{"kind":"keyfob","store":{...},"env":{...}}'  the real app (buildApp + listen)
//   node servers.mjs '{"kind":"floor","bodies":{"/path":"{...}"}}'   bare node:http, fixed JSON bodies
import http from 'node:http';
import { BENCH_AUDIENCE, benchEnv, childArgs, server } from './lib.mjs';

const args = childArgs();

async function keyfob() {
  // As `keyfob serve` does before it builds anything.
  (await server('heap-tuning.js')).tuneHeapForServing();
  const { loadConfig } = await server('config/load.js');
  const { createContainer } = await server('container.js');
  const { buildApp } = await server('app.js');
  const { SYSTEM_ACTOR } = await server('domain/models.js');
  // The default configuration (log level info, request logging on), logging to the child's
  // stdout, which the parent points at /dev/null.
  const config = loadConfig(benchEnv(args.store, { KEYFOB_LOG_LEVEL: 'info', ...args.env }));
  const container = await createContainer(config);
  const { client, clientSecret } = await container.clients.create(SYSTEM_ACTOR, { name: `bench-${Date.now()}`, allowedAudiences: [BENCH_AUDIENCE], introspection: true });
  const app = await buildApp(container);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  process.send({ port: app.server.address().port, clientId: client.id, clientSecret });
}

function floor() {
  const bodies = new Map(Object.entries(args.bodies).map(([path, body]) => [path, Buffer.from(body)]));
  const fallback = [...bodies.values()][0];
  const srv = http.createServer((req, res) => {
    const body = bodies.get(req.url) ?? fallback;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.end(body);
    });
  });
  srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port }));
  const stop = () => srv.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('disconnect', () => process.exit(0));
}

if (args.kind === 'keyfob') await keyfob();
else floor();
