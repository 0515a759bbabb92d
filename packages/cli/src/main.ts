#!/usr/bin/env node
/** The `care-reports` command of the CLI package: one command line on this process's I/O, then its exit code. */
import { processIo } from './io.ts';
import { runClientCli } from './program.ts';

process.exit(await runClientCli(process.argv.slice(2), processIo));
