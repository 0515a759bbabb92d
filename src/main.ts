/** `npm start`: the API and a worker in one process, on the embedded database unless DATABASE_URL is set. */
import { runService } from './cli/run-service.ts';

await runService({ api: true, worker: true });
