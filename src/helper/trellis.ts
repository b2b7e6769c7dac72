#!/usr/bin/env node
/** The `trellis` CLI: talks to trellisd over its LocalAPI socket (see docs/cli.md). */
import { runCli } from './cli/run.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
  env: process.env,
  now: () => new Date(),
});
process.exitCode = code;
