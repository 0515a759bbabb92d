/**
 * What a command reads and writes: its output streams, its environment and
 * its standard input. The `care-reports` process passes its own; a caller
 * running commands in-process (the tests) passes buffers, so a command is
 * the same code either way and ends by returning its exit code, never by
 * ending the process.
 */
import type { Readable, Writable } from 'node:stream';

export interface CliIo {
  readonly stdout: Writable & { readonly isTTY?: boolean };
  readonly stderr: Writable & { readonly isTTY?: boolean };
  readonly stdin: Readable;
  readonly env: NodeJS.ProcessEnv;
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };

/** Ends a command with this exit code, its message already written. */
export class CliExit extends Error {
  override name = 'CliExit';
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}
