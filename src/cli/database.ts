/**
 * Database access for one-shot commands: the external server, the embedded
 * server a running service owns, or, when none runs, the embedded server
 * started for the length of the command.
 */
import { loadConfig, type Config } from '../config.ts';
import { openDatabase, type Database } from '../db/database.ts';

export async function withDatabase<T>(fn: (db: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const db = await openDatabase(config, { startEmbedded: true, log });
  try {
    return await fn(db, config);
  } finally {
    await db.close();
  }
}
