/** Writes docs/exports.md, docs/ingest.md, docs/errors.md and the client package's catalog types from the definitions they describe. */
import fs from 'node:fs';
import { renderErrorsMarkdown } from '../src/errors.ts';
import { renderClientCatalog } from '../src/exports/catalog/client-types.ts';
import { renderExportsMarkdown } from '../src/exports/catalog/describe.ts';
import { renderIngestMarkdown } from '../src/ingest/describe.ts';

for (const [name, render] of [['exports.md', renderExportsMarkdown], ['ingest.md', renderIngestMarkdown], ['errors.md', renderErrorsMarkdown]] as const) {
  const target = new URL(`../docs/${name}`, import.meta.url);
  fs.writeFileSync(target, render());
  console.log(`wrote ${target.pathname}`);
}

const catalog = new URL('../packages/client/src/catalog.ts', import.meta.url);
fs.writeFileSync(catalog, renderClientCatalog());
console.log(`wrote ${catalog.pathname}`);
