// Writes docs/errors.md from packages/protocol/src/error-codes.ts (via the built protocol package).
// `npm run docs:errors` regenerates it; a test fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { renderErrorCatalogue } from './error-catalogue.mjs';

writeFileSync(new URL('../docs/errors.md', import.meta.url), await renderErrorCatalogue());
