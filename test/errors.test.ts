/** The error catalog and its generated page. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { ERROR_CODES, renderErrorsMarkdown } from '../src/errors.ts';

describe('the error catalog', () => {
  it('docs/errors.md is generated from it and up to date (npm run docs)', async () => {
    const docs = await fs.readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
    assert.equal(docs, renderErrorsMarkdown(), 'docs/errors.md is stale: run npm run docs');
    for (const [code, e] of Object.entries(ERROR_CODES)) assert.ok(docs.includes(`| \`${code}\` | ${e.status} |`), `${code} is documented`);
  });
});
