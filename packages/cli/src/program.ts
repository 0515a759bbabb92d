/**
 * A `care-reports` command line: commander set up to write to the given I/O
 * and to throw instead of exiting, and one place that turns what a command
 * threw into its message and exit code. The client commands run on it here;
 * the server's own command line (admin, seed, import, api, worker) adds its
 * commands to the same program.
 */
import { Command, CommanderError } from 'commander';
import { registerClientCommands } from './commands.ts';
import { describeFailure, EXIT_CODES } from './exit.ts';
import { CliExit, type CliIo } from './io.ts';

export function newProgram(io: CliIo, description: string): Command {
  return (
    new Command('care-reports')
      .description(description)
      .showHelpAfterError()
      // Usage errors throw (and exit 2 below) instead of exiting 1 from inside commander.
      .exitOverride()
      .configureOutput({ writeOut: (t) => void io.stdout.write(t), writeErr: (t) => void io.stderr.write(t) })
  );
}

/** Runs `program` on `argv` (without the node and script names); the exit code. */
export async function runProgram(program: Command, argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CliExit) return e.code;
    // commander has written its message.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_CODES.BAD_INPUT.code;
    const failure = describeFailure(e);
    io.stderr.write(failure.text);
    return failure.code;
  }
}

/** The client command line: export, exports, runs. */
export function runClientCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = newProgram(io, 'Exports from a Care Analytics Reports API server: create a run, wait for it, download its file; list exports and runs.');
  registerClientCommands(program, io);
  return runProgram(program, argv, io);
}
