/**
 * `care-reports` commands run in this process through `runCli`, the same
 * code the command's process runs, with buffers for its output and the
 * environment given: what a subprocess would show (exit code, standard output
 * and error) without a process start per command. Cases about the process
 * itself (signals, a service that keeps running, standard input) spawn it for
 * real; a service command that fails to start runs here like any other.
 */
import { PassThrough, Writable, type Readable } from 'node:stream';
import { runCli } from '../../src/cli/program.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Buffer;
}

function collector(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      done();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

/** Runs `care-reports <args>` with `env` over this process's environment. */
export async function careReports(args: readonly string[], env: Record<string, string> = {}, stdin: Readable = new PassThrough().end()): Promise<CliResult> {
  const out = collector();
  const err = collector();
  const code = await runCli(args, { stdout: out.stream, stderr: err.stream, stdin, env: { ...process.env, ...env } });
  if (code === undefined) throw new Error(`care-reports ${args.join(' ')} started a service; run it as a process`);
  const stdoutBytes = out.bytes();
  return { code, stdout: stdoutBytes.toString('utf8'), stderr: err.bytes().toString('utf8'), stdoutBytes };
}

/** As execFile does: resolves with the output on exit code 0, rejects with { code, stdout, stderr } otherwise. */
export async function careReportsOk(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await careReports(args, env);
  if (r.code !== 0) throw Object.assign(new Error(`care-reports ${args.join(' ')} exited ${r.code}: ${r.stderr}`), r);
  return r;
}
