import { randomFillSync } from 'node:crypto';

let lastMs = -1;
let sequence = 0;

// Random bytes are drawn from a pool refilled a few kilobytes at a time: one CSPRNG call per
// 256 ids instead of two per id (ids are made on the token-exchange path).
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function randomFrom(pool16: Buffer): void {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  pool.copy(pool16, 0, poolOffset, poolOffset + 16);
  poolOffset += 16;
}

/**
 * A UUIDv7 (RFC 9562) for time `now`: ids sort by creation time, and within one millisecond by
 * the order this process made them (a 12-bit counter in rand_a), so newest-first lists with
 * (created_at, id) keysets are stable even when many rows share a timestamp.
 */
export function newId(now: number): string {
  const bytes = Buffer.allocUnsafe(16);
  randomFrom(bytes);
  if (now === lastMs) {
    sequence = (sequence + 1) & 0xfff;
  } else {
    lastMs = now;
    // A random start below 0x400 leaves room for 3,000 more ids in the same millisecond.
    sequence = ((bytes[6]! << 8) | bytes[7]!) & 0x3ff;
  }
  let ms = Math.max(0, Math.floor(now));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | (sequence >> 8);
  bytes[7] = sequence & 0xff;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
