#!/usr/bin/env node
/**
 * Serves the desktop app to a browser through the web bridge (for machines without the Electron
 * binary): `node --import tsx src/main/bridge/serve.ts --socket PATH`. Prints the page's URL,
 * token included, as the only line on stdout; logs go to stderr.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultSocketPath } from '../../helper/localapi/client.js';
import { defaultLocalApiEndpoint } from '../../shared/schema/localapi.js';
import { startWebApp } from './web-app.js';

const USAGE = `usage: serve [--socket PATH] [--port N] [--renderer DIR] [--login-mode app-session|helper-interactive]

  --socket PATH     the helper's LocalAPI socket (default: $TRELLIS_SOCKET or ${defaultLocalApiEndpoint(process.platform)})
  --port N          loopback port for the page (default: a free one)
  --renderer DIR    the built renderer (default: dist/renderer; build it with npm run build:app)
  --login-mode M    app-session (default; the session goes to the keychain) or helper-interactive
`;

async function main(): Promise<number> {
  let values;
  try {
    values = parseArgs({
      options: {
        socket: { type: 'string' },
        port: { type: 'string' },
        renderer: { type: 'string' },
        'login-mode': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = Number(values.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port must be 0-65535\n`);
    return 2;
  }
  const mode = values['login-mode'] ?? 'app-session';
  if (mode !== 'app-session' && mode !== 'helper-interactive') {
    process.stderr.write(`--login-mode must be app-session or helper-interactive\n`);
    return 2;
  }
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const app = await startWebApp({
    socketPath: values.socket ?? defaultSocketPath(),
    rendererDir: values.renderer ?? path.join(repoRoot, 'dist', 'renderer'),
    port,
    loginMode: mode,
    onQuit: () => process.kill(process.pid, 'SIGTERM'),
  });
  process.stdout.write(`${app.url}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await app.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`serve: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
