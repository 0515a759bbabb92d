/**
 * Database access for one-shot commands: the external server, the embedded
 * server a running service owns, or, when none runs, the embedded server
 * started for the length of the command.
 */
import pg from 'pg';
import { loadConfig, type Config } from '../config.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { embeddedUrl } from '../db/embedded.ts';

export async function withDatabase<T>(fn: (db: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const running = !config.databaseUrl && (await reachable(await embeddedUrl(config.dataDir)));
  const db = await openDatabase(config, { startEmbedded: !config.databaseUrl && !running, log });
  try {
    return await fn(db, config);
  } finally {
    await db.close();
  }
}

async function reachable(url: string | undefined): Promise<boolean> {
  if (!url) return false;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
