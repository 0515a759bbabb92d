#!/usr/bin/env node
/** The `care-reports` command: one command line on this process's I/O, then its exit code. */
import { processIo } from '../../packages/cli/src/io.ts';
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2), processIo);
// Explicit: open pools and timers would otherwise keep the process alive. The service commands keep running.
if (code !== undefined) process.exit(code);
