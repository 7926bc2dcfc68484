import { ERROR_CODES } from '../packages/protocol/dist/index.js';

export async function renderErrorCatalogue() {
  const rows = Object.entries(ERROR_CODES).map(([code, { status, description }]) => `| \`${code}\` | ${status} | ${description} |`);
  return [
    '# Error codes',
    '',
    'Generated from `packages/protocol/src/error-codes.ts` by `npm run docs:errors`; do not edit by hand.',
    '',
    'Every error of the `/api` routes is `{ "error": "<code>", "message": "<sentence>" }`; validation',
    'messages start with the field they are about (`name: must NOT have more than 100 characters`).',
    'Resource-access failures also carry an RFC 6750 `WWW-Authenticate: Bearer …` challenge.',
    '',
    '| code | HTTP status | meaning |',
    '| --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
