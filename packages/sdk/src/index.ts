export { createVerifier, type VerifierOptions } from './verifier.js';
export { KeyfobUnavailableError } from './errors.js';
export { authorize, type Decision, type GuardOptions } from './authorize.js';
export { readBearer, refusalFor, type BearerHeader, type Refusal } from './challenge.js';
export type { VerifiedPrincipal, Verifier, VerifyErrorCode, VerifyFailure, VerifyOptions, VerifyResult } from './types.js';
