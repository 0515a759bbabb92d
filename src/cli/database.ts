/**
 * Database access for one-shot commands: the external server, the embedded
 * server a running service owns, or, when none runs, the embedded server
 * started for the length of the command.
 */
import { loadConfig, type Config } from '../config.ts';
import { openDatabase, type Database } from '../db/database.ts';
import type { CliIo } from '../../packages/cli/src/io.ts';

export async function withDatabase<T>(io: CliIo, fn: (db: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  const log = (m: string) => io.stderr.write(`${m}\n`);
  const db = await openDatabase(config, { startEmbedded: true, log });
  try {
    return await fn(db, config);
  } finally {
    await db.close();
  }
}
