// How steady this machine is: a fixed SHA-256 loop timed in consecutive 100 ms slices on the
// figures' core. On the VM the figures were recorded on, the rate of the same loop swung several-
// fold from one slice to the next; this is why every ratio compares neighbouring slices or runs.
import { createHash } from 'node:crypto';
import { childArgs, median, rateSync, writeResult } from './lib.mjs';

const args = childArgs();
const work = (i) => createHash('sha256').update(`steadiness ${i}`).digest();
rateSync(work, 300); // warm-up
const rates = [];
for (let s = 0; s < args.slices; s++) rates.push(rateSync(work, args.sliceMs));
const sorted = [...rates].sort((a, b) => a - b);
writeResult(args, {
  sliceMs: args.sliceMs,
  slices: rates.length,
  min: sorted[0],
  median: median(rates),
  max: sorted[sorted.length - 1],
  // The slowest tenth against the median: how far a slice can fall behind its neighbours.
  p10OverMedian: sorted[Math.floor(sorted.length / 10)] / median(rates),
  rates,
});
