import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { renderErrorCatalogue } from '../../../scripts/error-catalogue.mjs';

describe('docs/errors.md', () => {
  it('matches the error codes (run `npm run docs:errors` after changing them)', async () => {
    const committed = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    expect(committed).toBe(await renderErrorCatalogue());
  });
});
