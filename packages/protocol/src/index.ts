export {
  BASE62_ALPHABET,
  BODY_LENGTH,
  CHECKSUM_LENGTH,
  DEFAULT_TOKEN_PREFIX,
  RANDOM_LENGTH,
  TOKEN_SEARCH_PATTERN,
  checksumOf,
  crc32,
  displayHintOf,
  findTokens,
  generateToken,
  isValidPrefix,
  parseToken,
  randomBase62,
} from './token-format.js';
export type { FoundToken, GeneratedToken, ParsedToken } from './token-format.js';
export {
  BUILTIN_SCOPES,
  BUILTIN_SCOPE_NAMES,
  SCOPE_MAX_LENGTH,
  SCOPE_PATTERN,
  effectiveScopes,
  grants,
  isAdminScope,
  isScope,
  parseScope,
} from './scopes.js';
export type { BuiltinScope, Scope } from './scopes.js';
export { ERROR_CODES, statusOf } from './error-codes.js';
export type { ErrorCode } from './error-codes.js';
export * from './dto.js';
