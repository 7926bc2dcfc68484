import v8 from 'node:v8';

/** Young-generation semi-space for a serving process, in MiB (V8's default tops out at 16 on 64-bit). */
const SERVING_SEMI_SPACE_MB = 32;

/**
 * Gives a serving process a young generation sized for request traffic. Every request allocates
 * short-lived objects; with V8's default sizing, the young generation of a process that also
 * holds a large old generation (caches, compiled schemas, the console's assets) is resized down
 * between bursts, and under load scavenges then run far more often. While profiling the HTTP
 * figures of `npm run bench`, a bare node:http handler started inside the keyfob process swung
 * between full and half speed from one load round to the next, and held full speed with this
 * setting (docs/PERFORMANCE.md). An operator's own `--max-semi-space-size` wins.
 */
export function tuneHeapForServing(): void {
  const own = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes('--max-semi-space-size'));
  if (!own) v8.setFlagsFromString(`--max-semi-space-size=${SERVING_SEMI_SPACE_MB}`);
}
