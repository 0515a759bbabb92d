/** Writes docs/exports.md and docs/ingest.md from the definitions they describe. */
import fs from 'node:fs';
import { renderExportsMarkdown } from '../src/exports/catalog/describe.ts';
import { renderIngestMarkdown } from '../src/ingest/describe.ts';

for (const [name, render] of [['exports.md', renderExportsMarkdown], ['ingest.md', renderIngestMarkdown]] as const) {
  const target = new URL(`../docs/${name}`, import.meta.url);
  fs.writeFileSync(target, render());
  console.log(`wrote ${target.pathname}`);
}
