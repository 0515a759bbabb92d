/** Writes docs/exports.md from the export catalog. */
import fs from 'node:fs';
import { renderExportsMarkdown } from '../src/exports/catalog/describe.ts';

const target = new URL('../docs/exports.md', import.meta.url);
fs.writeFileSync(target, renderExportsMarkdown());
console.log(`wrote ${target.pathname}`);
