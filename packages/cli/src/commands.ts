/**
 * The client side of the command line: `export` (create → wait → download,
 * with progress), `exports` (what the server offers) and `runs` (list,
 * cancel). Works against this service or any server speaking the same API.
 * Its failures are UserErrors or the client's CareReportsErrors: the exit
 * code tells them apart (EXIT_CODES).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  CareReportsClient,
  CareReportsError,
  COMMON_PARAMETERS,
  FORMULA_TRIGGERS_TEXT,
  parseInstant as instantOf,
  REPORT_FORMAT_EXTENSIONS,
  REPORT_FORMAT_NAMES,
  type ReportFormat,
  type RunStatus,
} from '../../client/src/node.ts';
import { UserError } from './exit.ts';
import type { CliIo } from './io.ts';
import { Progress } from './progress.ts';

/** Flags or arguments the command cannot use. */
export class UsageError extends UserError {
  override name = 'UsageError';
}

interface Connection {
  baseUrl?: string;
  user?: string;
  password?: string;
  company?: string;
  config?: string;
}

function connect(o: Connection, env: NodeJS.ProcessEnv): { client: CareReportsClient; company: string } {
  let file: Record<string, string> = {};
  if (o.config) {
    try {
      file = JSON.parse(fs.readFileSync(o.config, 'utf8')) as Record<string, string>;
    } catch (e) {
      throw new UsageError(`cannot read the config file ${o.config}: ${(e as Error).message}`);
    }
  }
  const baseUrl = o.baseUrl ?? env['CARE_REPORTS_URL'] ?? file['baseUrl'] ?? 'http://localhost:8080';
  const username = o.user ?? env['CARE_REPORTS_USER'] ?? file['user'];
  const password = o.password ?? env['CARE_REPORTS_PASSWORD'] ?? file['password'];
  const company = o.company ?? env['CARE_REPORTS_COMPANY'] ?? file['company'];
  if (!username || !password) throw new UsageError('credentials missing: give --user and --password, CARE_REPORTS_USER and CARE_REPORTS_PASSWORD, or --config');
  if (!company) throw new UsageError('company key missing: give --company or CARE_REPORTS_COMPANY');
  return { client: new CareReportsClient({ baseUrl, username, password }), company };
}

const connectionOptions = (c: Command) =>
  c
    .option('--base-url <url>', 'server base URL (env CARE_REPORTS_URL; default http://localhost:8080)')
    .option('--user <name>', 'API user (env CARE_REPORTS_USER)')
    .option('--password <password>', 'API password (env CARE_REPORTS_PASSWORD)')
    .option('--company <key>', 'company key (env CARE_REPORTS_COMPANY)')
    .option('--config <file>', 'JSON file with baseUrl, user, password, company');

/** An instant from epoch ms, an ISO date-time with offset, or a date / date-time read in `zone`. */
export function parseInstant(text: string, zone: string | undefined, flag: string): number {
  try {
    return instantOf(text, zone, flag);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `--name value` and `--name=value` pairs left over after the known options: the export's own filters. */
function filterFlags(rest: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const m = /^--([A-Za-z][A-Za-z0-9]*)(?:=(.*))?$/.exec(a);
    if (!m) throw new UsageError(`unexpected argument '${a}'`);
    const value = m[2] ?? rest[++i];
    if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
    out.set(m[1]!, [...(out.get(m[1]!) ?? []), value]);
  }
  return out;
}

/** The format an output file's extension names (`.xlsx`, `.json`, `.csv`), if any. */
function formatOfFile(file: string | undefined): ReportFormat | undefined {
  const ext = file === undefined ? '' : path.extname(file).slice(1).toLowerCase();
  return REPORT_FORMAT_NAMES.find((f) => REPORT_FORMAT_EXTENSIONS[f] === ext);
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
const rows = (n: number | null) => (n === null ? '?' : n.toLocaleString('en'));

export function registerClientCommands(program: Command, io: CliIo): void {
  connectionOptions(
    program
      .command('export')
      .description('create an export run, wait for it with progress, and download its file')
      .argument('<exportId>', 'e.g. conversation, team_performance_interval, marketing/raw_brand_post')
      .requiredOption('--from <time>', 'start of the range: 2019-03-01, 2019-03-01T08:00, ISO with offset, or epoch ms')
      .requiredOption('--to <time>', 'end of the range (exclusive)')
      .option('--timezone <zone>', 'IANA zone for --from/--to and for the times in the file (default UTC)')
      .addOption(new Option('--format <format>', "file format (default: the -o file's extension, else csv)").choices([...REPORT_FORMAT_NAMES]))
      .option('--csv-escape-formulas', `with csv: text starting with ${FORMULA_TRIGGERS_TEXT} gets a leading ' so a spreadsheet shows it as text`)
      .option('--columns <list>', 'columns in this order, comma-separated')
      .option('--locale <locale>', 'time format of the file: en, es, fr, de, tr')
      .option('-o, --output <file>', 'write the file here (default: standard output)')
      .option('--quiet', 'no progress output')
      .allowUnknownOption()
      .allowExcessArguments()
      .addHelpText('after', '\nFilters of the export are flags named as the API names them, e.g. --priorities 0,1 --workqueueIds 501 --teamIds 6222.\nList them with: care-reports exports <exportId>'),
  ).action(async (exportId: string, o: Connection & { from: string; to: string; timezone?: string; format?: ReportFormat; csvEscapeFormulas?: boolean; columns?: string; locale?: string; output?: string; quiet?: boolean }, cmd: Command) => {
    const format = o.format ?? formatOfFile(o.output) ?? 'csv';
    if (o.csvEscapeFormulas && format !== 'csv') throw new UsageError(`--csv-escape-formulas applies to csv files only, not ${format}; drop it, or give --format csv`);
    if (format === 'xlsx' && o.output === undefined && io.stdout.isTTY) {
      throw new UsageError('an xlsx file is not text for a terminal: give -o FILE.xlsx, or redirect standard output');
    }
    const { client, company } = connect(o, io.env);
    if (o.timezone) {
      try {
        new Intl.DateTimeFormat('en', { timeZone: o.timezone });
      } catch {
        throw new UsageError(`--timezone '${o.timezone}' is not an IANA zone id, e.g. America/Chicago`);
      }
    }
    const startTime = parseInstant(o.from, o.timezone, '--from');
    const endTime = parseInstant(o.to, o.timezone, '--to');
    if (startTime >= endTime) throw new UsageError(`--from must be before --to (got ${new Date(startTime).toISOString()} and ${new Date(endTime).toISOString()})`);
    const filters = filterFlags(cmd.args.slice(1));

    // Validate filters against the server's discovery, where it offers one.
    const description = await client.describeExport(exportId.replace(/^marketing\//, '')).catch((e: unknown) => {
      if (e instanceof CareReportsError && e.kind === 'not-found' && /no export/.test(e.message)) throw new UsageError(`there is no export '${exportId}'; list them with care-reports exports`);
      if (e instanceof CareReportsError && e.kind === 'not-found') return undefined; // a server without discovery
      throw e;
    });
    if (description) {
      const known = new Set(description.parameters.map((p) => p.name));
      for (const name of filters.keys()) {
        if (!known.has(name)) throw new UsageError(`--${name} is not a parameter of ${exportId}; it takes ${[...known].filter((k) => !(COMMON_PARAMETERS as readonly string[]).includes(k)).map((k) => `--${k}`).join(', ') || 'no filters'}`);
      }
    }
    const params: Record<string, string | number | boolean | string[]> = { companyKey: company, startTime, endTime, reportFormat: format, ...(o.csvEscapeFormulas ? { csvEscapeFormulas: true } : {}) };
    if (o.timezone) params['timezone'] = o.timezone;
    if (o.locale) params['locale'] = o.locale;
    if (o.columns) params['reportMetrics'] = o.columns.split(',').map((s) => s.trim()).filter(Boolean);
    for (const [k, v] of filters) params[k] = v;

    const progress = new Progress(o.quiet ?? false, io.stderr);
    progress.done(`${exportId}: ${new Date(startTime).toISOString()} → ${new Date(endTime).toISOString()} (${startTime} → ${endTime})${o.timezone ? ` in ${o.timezone}` : ''}`);
    const run = await client.createExportRaw(exportId, params);
    const closed = await client.waitForRun(run.statusUrl, {
      onStatus: (s: RunStatus) =>
        progress.show(s.queuePosition ? `queued, position ${s.queuePosition}${s.reason ? ` (${s.reason})` : ''}` : s.runnerState === 'RUNNING' ? `running: ${rows(s.currentCount)} of ${rows(s.totalCount)} rows${s.reason ? ` (${s.reason})` : ''}` : s.detail),
    });
    progress.done(`completed: ${rows(closed.totalCount)} rows`);
    const bytes = await client.download(closed.downloadUrl, o.output ?? io.stdout, {
      onBytes: (n, total) => progress.show(`downloading ${mb(n)}${total ? ` of ${mb(total)}` : ''}`),
      expect: closed,
    });
    progress.done(`downloaded ${mb(bytes)}${o.output ? ` to ${o.output}` : ''}`);
    if (closed.fileSha256) progress.done(`checked: ${bytes} bytes, SHA-256 ${closed.fileSha256}, as the server published it`);
  });

  connectionOptions(
    program
      .command('exports')
      .description('list the exports the server offers, or the columns and parameters of one')
      .argument('[exportId]'),
  ).action(async (exportId: string | undefined, o: Connection) => {
    const { client } = connect({ company: '-', ...o }, io.env);
    if (!exportId) {
      for (const e of await client.listExports()) io.stdout.write(`${e.path.replace('/api/public/reports/report/', '').padEnd(30)} ${e.grain}\n`);
      return;
    }
    const e = await client.describeExport(exportId.replace(/^marketing\//, ''));
    io.stdout.write(`${e.path}\n${e.description}\n\ncolumns:\n`);
    for (const c of e.columns) io.stdout.write(`  ${c.name.padEnd(38)} ${c.type.padEnd(12)} ${c.description}\n`);
    io.stdout.write('\nparameters:\n');
    for (const p of e.parameters) io.stdout.write(`  ${p.name.padEnd(22)} ${p.type.padEnd(26)} ${p.description}\n`);
  });

  const runs = program.command('runs').description("list the company's export runs, or cancel one");
  connectionOptions(runs.command('list').option('--state <states>', 'e.g. QUEUED,RUNNING').option('--limit <n>', 'runs per page', '20')).action(
    async (o: Connection & { state?: string; limit: string }) => {
      const { client, company } = connect(o, io.env);
      const r = await client.listRuns({ companyKey: company, limit: o.limit, ...(o.state ? { state: o.state } : {}) });
      for (const x of r.runs) {
        io.stdout.write(`${new Date(x.createdTime).toISOString()}  ${x.state.padEnd(9)} ${x.exportId.padEnd(28)} ${x.workflowId} ${x.runId}\n`);
      }
    },
  );
  connectionOptions(runs.command('cancel').argument('<workflowId>').argument('<runId>')).action(async (workflowId: string, runId: string, o: Connection) => {
    const { client, company } = connect(o, io.env);
    const s = await client.cancelRun(workflowId, runId, company);
    io.stdout.write(`${s.detail}: ${s.reason ?? ''}\n`);
  });
}
