/** docs/ingest.md, generated from the entity definitions that validate records. */
import { allFields, ENTITIES, type FieldDef } from './entities.ts';
import { FUTURE_TOLERANCE_MS, MAX_BODY_BYTES, MAX_RECORDS } from './validate.ts';
import { MAX_UNKNOWN_LISTED } from './store.ts';

const typeText = (f: FieldDef): string => {
  switch (f.type) {
    case 'id':
      return 'id (whole number, or its string)';
    case 'time':
      return 'time (ISO 8601 with offset, or epoch ms)';
    case 'enum':
      return f.values!.map((v) => `\`${v}\``).join(' \\| ');
    case 'integer':
      return `integer${f.min !== undefined ? ` ≥ ${f.min}` : ''}${f.max !== undefined ? `, ≤ ${f.max}` : ''}`;
    case 'text[]':
      return f.ref ? 'list of ids' : 'list of strings';
    default:
      return f.type;
  }
};

export function renderIngestMarkdown(): string {
  const out = [
    '# Ingest API',
    '',
    '<!-- Generated from src/ingest/entities.ts by `npm run docs`; a test fails when it is out of date. -->',
    '',
    '    POST /api/v2/ingest/{entity}',
    '    Content-Type: application/x-ndjson   (one record per line)  or  application/json  (an array of records)',
    '',
    'HTTP Basic with the `INGEST` permission (`npm run care-reports -- admin grant USER --permission INGEST` in a',
    "checkout). The company is the caller's; a record never names it.",
    '',
    '- **Upserts.** A record is keyed by its source id(s). It is applied only when its `updatedAt` is newer than the',
    '  stored version: sending a batch twice changes nothing, and a late, older version never replaces a newer one.',
    '  Within a batch the newest version of a key wins.',
    '- **All or nothing.** Any invalid record rejects the whole batch (400, `code: INVALID_RECORDS`) with every',
    '  problem in `errors`: `{"line", "field", "reason"}` (for a JSON array, `line` is the position from 1).',
    `- **Limits.** At most ${MAX_RECORDS.toLocaleString('en')} records and ${MAX_BODY_BYTES / 1048576} MB per request (413 beyond). Times may not lie more`,
    `  than ${FUTURE_TOLERANCE_MS / 60000} minutes in the future, except scheduled times. Bodies must be UTF-8.`,
    '- **Times** are ISO 8601 with `Z` or an offset (a day the calendar lacks, such as February 30, is refused; a UTC time',
    '  keeps up to 6 decimals of seconds), or epoch milliseconds. Text may not contain U+0000.',
    '- **Dry run.** `?dryRun=true` validates and writes the batch, answers as usual (with `"dryRun": true`), then rolls it',
    '  back: nothing is written.',
    `- **References** to ids the company does not have (yet) are kept, counted in \`unknownReferenceCount\` and listed`,
    `  (the first ${MAX_UNKNOWN_LISTED.toLocaleString('en')}, by line) in \`unknownReferences\`.`,
    '',
    'Answer: `{"status":"PASS","result":{"received":2,"inserted":1,"updated":0,"unchanged":1,"unknownReferenceCount":0,"unknownReferences":[]}}`.',
    '',
    '## Bulk import from files',
    '',
    'For whole histories, load a file straight into the database with the same checks and the same upsert rules:',
    '',
    '    npm run care-reports -- import conversations conversations.ndjson --company acme',
    '    npm run care-reports -- import agents agents.csv.gz --company acme --dry-run',
    '    zcat posts.ndjson.gz | npm run care-reports -- import posts - --company acme --format ndjson',
    '',
    '- **Formats.** NDJSON (one record per line, as above), or CSV with the field names as its header row; the',
    '  name decides (`.csv`, anything else NDJSON) unless `--format` says; `.gz` is decompressed; `-` is standard input.',
    '- **CSV cells.** An empty cell is an absent field. A list field (`list of ids`, `list of strings`) is written',
    '  comma-separated (`6222,6223`), or as a JSON array when a value holds a comma (`["a,b","c"]`); an object field',
    '  is written as JSON. Numbers and `true`/`false` are read as the field\'s type.',
    '- **All or nothing.** One invalid record refuses the whole file (exit 2), listing the first problems by line;',
    '  `--dry-run` reads, checks and writes everything, reports, then rolls it all back.',
    '',
    '## Fields left out',
    '',
    'A field that is not required may be left out. Where the table below gives a default, the record is stored',
    'with it, and exports show it as if it had been sent: an author sent without `followerCount` exports `0`, as',
    'one with no followers does, so send the field whenever the number is known. A field with no default is',
    'stored as unknown and exports as an empty value (an empty CSV cell, `""` in JSON): a response sent without',
    '`approvalStatus` exports an empty `APPROVAL_STATUS`.',
    '',
  ];
  for (const e of ENTITIES) {
    out.push(`## ${e.name}`, '', `${e.description} Key: ${e.key.map((k) => `\`${k}\``).join(' + ')}.`, '', '| field | type | required | default | meaning |', '| --- | --- | --- | --- | --- |');
    for (const f of allFields(e)) {
      const dflt = f.default === undefined ? '' : `\`${JSON.stringify(f.default)}\``;
      out.push(`| \`${f.name}\` | ${typeText(f)} | ${f.required ? 'yes' : ''} | ${dflt} | ${f.description}${f.ref ? ` Refers to ${f.ref}.` : ''} |`);
    }
    out.push('', 'Example:', '', '```json', JSON.stringify(e.example), '```', '');
  }
  return out.join('\n');
}
