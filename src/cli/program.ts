/**
 * care-reports: run the service or one of its sides, and administer it.
 * `runCli` runs one command line against the I/O it is given and returns its
 * exit code (src/cli/main.ts is the process around it).
 *
 * What a command needs is loaded when it runs, not at start: the client
 * commands and `--help` then start in a fraction of the time the server's
 * modules take to load.
 */
import { InvalidArgumentError, Option } from 'commander';
import fs from 'node:fs';
import { AccountError, createCompany, createUser, findCompanyByKey, grant, PERMISSIONS, revoke, setCompanyTimezone, type Permission } from '../accounts/accounts.ts';
import { DEMO_DEFAULTS } from '../demo/generator.ts';
import { ENTITIES, findEntity } from '../ingest/entities.ts';
import { registerClientCommands } from '../../packages/cli/src/commands.ts';
import { CliExit, type CliIo } from '../../packages/cli/src/io.ts';
import { newProgram, runProgram } from '../../packages/cli/src/program.ts';
import { Progress } from '../../packages/cli/src/progress.ts';
import type { withDatabase as WithDatabaseFn } from './database.ts';
import type { runService as RunServiceFn } from './run-service.ts';

type RunService = typeof RunServiceFn;
type WithDatabase = typeof WithDatabaseFn;

const runService: RunService = async (opts, env) => (await import('./run-service.ts')).runService(opts, env);
const withDatabase: WithDatabase = async (io, fn) => (await import('./database.ts')).withDatabase(io, fn);

/**
 * Runs one command line (`argv` without the node and script names) and
 * returns its exit code, or undefined when it started the service, which runs
 * until a signal stops it.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  let serving = false;
  const program = newProgram(io, 'Self-hosted Care Analytics Reports API: export runs, status polling and signed downloads.');

  const services: [name: string, description: string, sides: { api: boolean; worker: boolean }][] = [
    ['start', 'run the API and a worker (embedded PostgreSQL unless DATABASE_URL is set)', { api: true, worker: true }],
    ['api', 'run the API alone (workers run elsewhere against the same database)', { api: true, worker: false }],
    ['worker', 'run export workers alone against DATABASE_URL, or the embedded server a running service owns', { api: false, worker: true }],
  ];
  for (const [name, description, sides] of services) {
    program
      .command(name)
      .description(description)
      .action(async () => {
        await runService(sides, io.env);
        serving = true;
      });
  }

  const int = (name: string, min: number) => (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}`);
    return Number(v);
  };

  program
    .command('seed')
    .description('generate deterministic care data into a company (created if missing)')
    .requiredOption('--company <key>', 'company key')
    .option('--conversations <n>', 'number of conversations', int('conversations', 1), DEMO_DEFAULTS.conversations)
    .option('--seed <n>', 'random seed: the same seed gives the same data', int('seed', 0), DEMO_DEFAULTS.seed)
    .action(async (o: { company: string; conversations: number; seed: number }) => {
      const [{ inTransaction }, { seedCompany }] = await Promise.all([import('../db/database.ts'), import('../demo/seed.ts')]);
      await withDatabase(io, async (db) => {
        const r = await inTransaction(db.pool, async (client) => {
          const company = (await findCompanyByKey(client, o.company)) ?? (await createCompany(client, { key: o.company, timezone: 'America/Chicago' }));
          const has = await client.query('SELECT 1 FROM conversations WHERE company_id = $1 LIMIT 1', [company.id]);
          if (has.rowCount) throw new AccountError(`company ${o.company} already has care data; seed a new company instead`);
          return seedCompany(client, company.id, { ...DEMO_DEFAULTS, conversations: o.conversations, seed: o.seed }, (t, n) =>
            io.stderr.write(`  ${t}: ${n.toLocaleString('en')} rows\n`),
          );
        });
        io.stdout.write(`seeded company ${o.company} in ${(r.ms / 1000).toFixed(1)} s\n`);
      });
    });

  program
    .command('import')
    .description("bulk-load a file of records (NDJSON, or CSV with the field names as header) into a company's care data")
    .argument('<entity>', `one of ${ENTITIES.map((e) => e.name).join(', ')}`)
    .argument('<file>', "the records; .csv is read as CSV, anything else as NDJSON; a .gz name is decompressed; '-' reads standard input")
    .requiredOption('--company <key>', 'company key')
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['ndjson', 'csv']))
    .option('--dry-run', 'read, check and write the whole file, report, then roll it all back')
    .option('--quiet', 'no progress output')
    .addHelpText('after', '\nRecord schemas: docs/ingest.md. The file is loaded whole or not at all; the newest updatedAt of each record wins.')
    .action(async (entityName: string, file: string, o: { company: string; format?: 'ndjson' | 'csv'; quiet?: boolean; dryRun?: boolean }) => {
      const entity = findEntity(entityName);
      if (!entity) throw new AccountError(`there is no entity '${entityName}'; import one of ${ENTITIES.map((e) => e.name).join(', ')}`);
      if (file !== '-' && !fs.existsSync(file)) throw new AccountError(`no such file: ${file}`);
      const { importFile, ImportRejected } = await import('../ingest/import.ts');
      await withDatabase(io, async (db) => {
        const company = await findCompanyByKey(db.pool, o.company);
        if (!company) throw new AccountError(`company ${o.company} does not exist`);
        const progress = new Progress(o.quiet ?? false, io.stderr);
        const started = Date.now();
        try {
          const r = await importFile(db.pool, company.id, entity, file, {
            stdin: io.stdin,
            ...(o.format ? { format: o.format } : {}),
            dryRun: o.dryRun ?? false,
            onProgress: (n, bytes, size) => progress.show(`${n.toLocaleString('en')} records read`, size > 0 ? bytes / size : undefined),
          });
          const secs = (Date.now() - started) / 1000;
          progress.done(
            `${entity.name}: ${r.received.toLocaleString('en')} records in ${secs.toFixed(1)} s (${Math.round(r.received / secs).toLocaleString('en')}/s): ` +
              `${r.inserted.toLocaleString('en')} inserted, ${r.updated.toLocaleString('en')} updated, ${r.unchanged.toLocaleString('en')} unchanged` +
              (o.dryRun ? ' (dry run: all rolled back, nothing was written)' : ''),
          );
          if (r.unknownReferenceCount > 0) {
            io.stderr.write(`${r.unknownReferenceCount.toLocaleString('en')} references to unknown ids, e.g.:\n`);
            for (const u of r.unknownReferences.slice(0, 10)) io.stderr.write(`  line ${u.line}: ${u.field} ${u.id} (no such ${u.entity})\n`);
          }
        } catch (e) {
          if (!(e instanceof ImportRejected)) throw e;
          progress.done(e.message);
          for (const x of e.errors.slice(0, 20)) io.stderr.write(`  line ${x.line}${x.field ? `, ${x.field}` : ''}: ${x.reason}\n`);
          throw new CliExit(e.exitCode);
        }
      });
    });

  const admin = program.command('admin').description('companies, users and permissions');
  admin
    .command('create-company')
    .argument('<key>', 'company key (letters, digits, . _ -)')
    .option('--name <name>', 'display name')
    .option('--timezone <zone>', 'IANA zone of the company (business hours)', 'UTC')
    .action(async (key: string, o: { name?: string; timezone: string }) => {
      await withDatabase(io, async (db) => {
        const c = await createCompany(db.pool, { key, timezone: o.timezone, ...(o.name ? { name: o.name } : {}) });
        io.stdout.write(`created company ${c.key}\n`);
      });
    });
  admin
    .command('set-timezone')
    .description("change the IANA zone a company's business hours are read in")
    .argument('<key>', 'company key')
    .argument('<zone>', 'IANA zone, e.g. Europe/Berlin')
    .action(async (key: string, zone: string) => {
      await withDatabase(io, async (db) => {
        await setCompanyTimezone(db.pool, key, zone);
        io.stdout.write(`company ${key} now uses ${zone}\n`);
      });
    });
  admin
    .command('create-user')
    .argument('<username>')
    .requiredOption('--company <key>', 'company the user belongs to')
    .option('--password <password>', 'password (prefer CARE_REPORTS_PASSWORD, which stays out of shell history)')
    .option('--grant', 'also grant the Analytics Reports API permission')
    .action(async (username: string, o: { company: string; password?: string; grant?: boolean }) => {
      const password = o.password ?? io.env['CARE_REPORTS_PASSWORD'];
      if (!password) throw new AccountError('give a password with --password or CARE_REPORTS_PASSWORD');
      await withDatabase(io, async (db) => {
        await createUser(db.pool, { companyKey: o.company, username, password });
        if (o.grant) await grant(db.pool, username, 'ANALYTICS_REPORTS_API');
        io.stdout.write(`created user ${username} in company ${o.company}${o.grant ? ' with ANALYTICS_REPORTS_API' : ''}\n`);
      });
    });
  const permissionOption = new Option('--permission <name>', 'permission').choices(PERMISSIONS).default('ANALYTICS_REPORTS_API');
  const permissionChanges = [
    ['grant', grant, (p: string, u: string) => `granted ${p} to ${u}`],
    ['revoke', revoke, (p: string, u: string) => `revoked ${p} from ${u}`],
  ] as const;
  for (const [name, change, said] of permissionChanges) {
    admin
      .command(name)
      .argument('<username>')
      .addOption(permissionOption)
      .action(async (username: string, o: { permission: Permission }) => {
        await withDatabase(io, async (db) => {
          await change(db.pool, username, o.permission);
          io.stdout.write(`${said(o.permission, username)}\n`);
        });
      });
  }

  registerClientCommands(program, io);

  const code = await runProgram(program, argv, io);
  return serving && code === 0 ? undefined : code;
}
