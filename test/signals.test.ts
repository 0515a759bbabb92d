/**
 * Stopping and sharing the embedded default as people do it: Ctrl-C in a
 * terminal (SIGINT to the whole process group, PostgreSQL's too if it were
 * there), and a second process started on the same DATA_DIR while the
 * service runs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../src/db/embedded.ts';

const root = path.resolve(import.meta.dirname, '..');
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'care-reports-signals-'));
await fs.chmod(dataDir, 0o711);
after(() => fs.rm(dataDir, { recursive: true, force: true }));
const pgPort = await freePort();

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `node <script> <args>` as the leader of a process group of its own, as a terminal starts a command; resolves once it is ready. */
async function start(args: string[], env: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const child = spawn(process.execPath, args, {
    cwd: root,
    detached: true,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, EMBEDDED_PG_PORT: String(pgPort), DEMO_DATA: 'false', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const take = (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"ready"')) resolve();
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    void exited.then((code) => reject(new Error(`${args.join(' ')} exited with ${code} before it was ready:\n${out}`)));
  });
  return { child, port, output: () => out, exited };
}

const postmasterPid = () => fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').then((t) => Number(t.split('\n')[0]), () => null);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const healthy = async (port: number) => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200;

/** No stack trace, no unhandled error: every line the service printed is one of its JSON log lines. */
function assertCleanOutput(out: string): void {
  for (const line of out.split('\n').filter(Boolean)) {
    assert.ok(line.startsWith('{'), `a line that is not a log line: ${line}\n${out}`);
    const entry = JSON.parse(line) as { level: number; msg: string };
    assert.ok(entry.level < 50, `an error was logged: ${line}`);
  }
}

describe('Ctrl-C and a second process on the same DATA_DIR', () => {
  it('SIGINT to the process group of npm start stops everything cleanly, ten times in a row', async () => {
    for (let i = 1; i <= 10; i++) {
      const s = await start(['src/main.ts']);
      const server = await postmasterPid();
      assert.ok(server && alive(server), 'the embedded server runs');
      process.kill(-s.child.pid!, 'SIGINT');
      const code = await s.exited;
      assert.equal(code, 0, `try ${i}: exit code\n${s.output()}`);
      assertCleanOutput(s.output());
      assert.match(s.output(), /"msg":"stopped"/);
      assert.equal(await postmasterPid(), null, `try ${i}: the embedded server stopped with the service`);
      assert.ok(!alive(server), `try ${i}: no PostgreSQL process is left`);
    }
  });

  it('`care-reports api` beside a running npm start joins its server, and stopping it leaves the service running', async () => {
    const service = await start(['src/main.ts']);
    const server = await postmasterPid();
    const api = await start(['src/cli/main.ts', 'api']);
    assert.match(api.output(), /"database":"embedded, owned by another process"/);
    assert.doesNotMatch(api.output(), /orphaned/);
    assert.equal(await postmasterPid(), server, 'the same server, never restarted');
    assert.ok(await healthy(api.port));
    process.kill(-api.child.pid!, 'SIGINT');
    assert.equal(await api.exited, 0);
    assert.ok(alive(server!), 'the service’s server still runs');
    assert.ok(await healthy(service.port), 'and the service still answers');
    process.kill(-service.child.pid!, 'SIGTERM');
    assert.equal(await service.exited, 0);
    assert.equal(await postmasterPid(), null);
  });
});
