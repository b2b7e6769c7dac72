#!/usr/bin/env node
/**
 * trellis-control: runs the control plane (`serve`) and administers it. Management commands work
 * directly on the configured database (same config file and TRELLIS_* variables as `serve`), so
 * they need no API key on the server machine; with `--server URL` and an API key they use a
 * running server's admin API instead, and changes reach live netmaps at once.
 */
import { apiKeyCommands } from './cli/commands/apikeys.js';
import { auditCommand } from './cli/commands/audit.js';
import { deviceCommands } from './cli/commands/devices.js';
import { keyCommands } from './cli/commands/keys.js';
import { policyCommands } from './cli/commands/policy.js';
import { routeCommands } from './cli/commands/routes.js';
import { sessionCommands } from './cli/commands/sessions.js';
import { settingsCommands } from './cli/commands/settings.js';
import { migrateCommand, serveCommand, versionCommand } from './cli/commands/system.js';
import { userCommands } from './cli/commands/users.js';
import {
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  commandHelp,
  describeError,
  findCommand,
  parseCommandArgs,
  programHelp,
  type Command,
} from './cli/command.js';
import { createOutput } from './cli/output.js';

const PROGRAM = 'trellis-control';

const COMMANDS: readonly Command[] = [
  serveCommand,
  ...userCommands,
  ...deviceCommands,
  ...keyCommands,
  ...sessionCommands,
  ...apiKeyCommands,
  ...settingsCommands,
  ...policyCommands,
  ...routeCommands,
  auditCommand,
  migrateCommand,
  versionCommand,
];

async function main(argv: string[]): Promise<number> {
  const stderr = (s: string) => void process.stderr.write(s);
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${programHelp(PROGRAM, COMMANDS)}\n`);
    return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
  }
  const found = findCommand(COMMANDS, argv);
  if (!found) {
    // "users" alone: show that group's commands.
    const group = COMMANDS.filter((c) => c.name.split(' ')[0] === argv[0]);
    if (group.length > 0 && !argv[1]?.match(/^[a-z]/)) {
      process.stdout.write(`${programHelp(PROGRAM, group)}\n`);
      return argv.includes('--help') || argv.includes('-h') ? EXIT_OK : EXIT_USAGE;
    }
    stderr(`${PROGRAM}: unknown command "${argv.slice(0, 2).join(' ')}"; see ${PROGRAM} --help\n`);
    return EXIT_USAGE;
  }
  const { command, rest } = found;
  try {
    const { args, opts } = parseCommandArgs(command, rest);
    if (opts.help) {
      process.stdout.write(`${commandHelp(PROGRAM, command)}\n`);
      return EXIT_OK;
    }
    await command.run({ args, opts, out: createOutput(opts.json === true) });
    return EXIT_OK;
  } catch (e) {
    const known = describeError(e);
    if (known) {
      stderr(`${PROGRAM}: ${known.message}\n`);
      if (known.exitCode === EXIT_USAGE) stderr(`usage: see ${PROGRAM} ${command.name} --help\n`);
      return known.exitCode;
    }
    // Not the user's mistake: a bug or an environment failure. The stack helps whoever reports it.
    stderr(`${PROGRAM}: unexpected error: ${(e as Error).message ?? String(e)}\n`);
    if (process.env.TRELLIS_DEBUG) stderr(`${(e as Error).stack ?? ''}\n`);
    return EXIT_FAILED;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${PROGRAM}: ${(e as Error).message}\n`);
    process.exitCode = EXIT_FAILED;
  },
);
