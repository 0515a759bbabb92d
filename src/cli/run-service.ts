/**
 * Process lifecycle of the service: open the database, start the requested
 * sides, print how to use it, stop cleanly on SIGINT/SIGTERM.
 */
import { loadConfig, type Config } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { ensureDemo, type DemoCredentials } from '../demo/demo-account.ts';
import { createLogger } from '../log.ts';
import { poolSizeFor, startService, type ServiceOptions } from '../service.ts';

/**
 * Starts the service; resolves once it serves, and a failure to start (the
 * configuration, the database, the file store) rejects with everything it
 * had opened closed again, the embedded server stopped included.
 */
export async function runService(opts: ServiceOptions, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config: Config = loadConfig(env);
  const log = createLogger(config.logLevel);
  const started = Date.now();
  const db = await openDatabase(config, {
    // Only the process that serves the API owns the embedded server; a lone worker joins it.
    startEmbedded: opts.api,
    poolSize: poolSizeFor(config, opts),
    log: (m) => log.info(m),
  });
  let demo: DemoCredentials | undefined;
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    if (db.embedded && config.demoData && opts.api) {
      demo = await ensureDemo(db.pool, config.dataDir, config.demoPassword, log);
    }
    service = await startService(config, db, log, opts);
  } catch (e) {
    await db.close();
    throw e;
  }
  const database = config.databaseUrl ? 'external' : db.embedded ? 'embedded' : 'embedded, owned by another process';
  log.info({ ms: Date.now() - started, address: service.address, database }, 'ready');
  if (demo) printWelcome(config, demo);

  let stopping = false;
  const shutdown = (signal: string) => {
    // A second Ctrl-C or SIGTERM must not cut the orderly stop short: runs are being handed back.
    if (stopping) {
      log.info({ signal }, 'already stopping; running exports are being finished or handed back');
      return;
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    const limit = config.shutdownGraceSeconds + 30;
    const force = setTimeout(() => {
      log.error(`did not stop within ${limit} s; exiting`);
      process.exit(1);
    }, limit * 1000);
    force.unref();
    void (async () => {
      try {
        await service.stop();
        await db.close();
        log.info('stopped');
        process.exit(0);
      } catch (e) {
        log.error({ err: e }, 'error while stopping');
        process.exit(1);
      }
    })();
  };
  // This process stops its parts in order (the embedded server last), so no
  // other handler may end it early.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/**
 * Where to find the credentials, and the quick start. The password is shown
 * once, when it was just generated; afterwards it stays in the 0600 file
 * (terminal scrollback and logs are no place for it).
 */
function printWelcome(config: Config, demo: DemoCredentials): void {
  const base = config.publicUrl;
  const lines = [
    '',
    `care-reports is running at ${base}`,
    '',
    `  company key: ${demo.companyKey}`,
    `  username:    ${demo.username}`,
    demo.generated ? `  password:    ${demo.password}  (generated now; shown only this once)` : `  password:    in ${demo.file}`,
    `  credentials: ${demo.file} (readable by you alone)`,
    '',
    'Try the quick start:',
    `  PASS=$(sed -n 's/^password=//p' '${demo.file}')`,
    `  curl -u "${demo.username}:$PASS" '${base}/api/public/reports/report/conversation?reportFormat=csv&locale=en_US&companyKey=${demo.companyKey}&startTime=1551441600000&endTime=1556712000000'`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
