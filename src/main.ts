/** `npm start`: the API and a worker in one process, on the embedded database unless DATABASE_URL is set. */
import { exitWithError } from '../packages/cli/src/exit.ts';
import { runService } from './cli/run-service.ts';

try {
  await runService({ api: true, worker: true });
} catch (e) {
  exitWithError(e);
}
