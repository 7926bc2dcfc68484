// The floor of the token-exchange figure: jose SignJWT EdDSA (Ed25519) signatures per second,
// in-process, with the claims and header the token endpoint signs. Runs as a pinned child.
import { SignJWT, generateKeyPair } from 'jose';
import { BENCH_AUDIENCE, childArgs, rateAsync, writeResult } from './lib.mjs';

const args = childArgs();
const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
const sign = (i) =>
  new SignJWT({ sub: '01935f2e-8a6b-7c3d-9e0f-123456789abc', aud: BENCH_AUDIENCE, jti: `01935f2e-8a6b-7c3d-9e0f-${String(i).padStart(12, '0')}`, client_id: 'kfc_0193bench', scope: 'tokens:read', kf_pat_id: '01935f2e-8a6b-7c3d-9e0f-abcdefabcdef' })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'bench-key-0123456789ab', typ: 'at+jwt' })
    .setIssuer('http://localhost:8080')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
// WebCrypto signs off the main thread, so signs in flight overlap: the floor is the better of
// one at a time and as many in flight as the HTTP run has connections.
await rateAsync(sign, 300); // warm-up
await rateAsync(sign, 300, args.concurrency);
const sequential = await rateAsync(sign, args.ms / 2);
const concurrent = await rateAsync(sign, args.ms / 2, args.concurrency);
writeResult(args, { signsPerSec: Math.max(sequential, concurrent), sequential, concurrent, concurrency: args.concurrency });
