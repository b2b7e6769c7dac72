/**
 * Who does a server see? `whoami.ts serve --host ADDR --port N` answers every TCP connection with
 * the peer address it saw and closes (ReadyLine once listening; stops on SIGTERM).
 * `whoami.ts ask --server ADDR:PORT [--bind ADDR] [--timeout-ms MS]` connects (from `bind`) and
 * prints a WhoamiOutput line; it exits 0 whenever its arguments are valid.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { WhoamiOutput } from './device-probes.js';
import { closeOnSignal, emit, parseIntArg, parsePort, usage } from './script-main.js';
import { parseHostPort, type ReadyLine } from './script-output.js';

const SYNOPSIS =
  'whoami.ts serve --host ADDR --port N | ask --server ADDR:PORT [--bind ADDR] [--timeout-ms MS]';
/** A lab round trip is sub-millisecond; a SYN dropped by a filter is never answered. */
const DEFAULT_TIMEOUT_MS = 3_000;
const MAX_TIMEOUT_MS = 60_000;

const { values, positionals } = parseArgs({
  options: {
    host: { type: 'string' },
    port: { type: 'string' },
    server: { type: 'string' },
    bind: { type: 'string' },
    'timeout-ms': { type: 'string' },
  },
  allowPositionals: true,
  strict: true,
});

async function serve(): Promise<void> {
  const host = values.host ?? usage('whoami', '--host is required', SYNOPSIS);
  if (net.isIP(host) === 0) usage('whoami', `--host must be an IP literal: ${host}`, SYNOPSIS);
  const port = parsePort(values.port) ?? usage('whoami', '--port N is required', SYNOPSIS);
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(`${socket.remoteAddress ?? ''}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  closeOnSignal(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const bound = server.address() as net.AddressInfo;
  const ready: ReadyLine = {
    ready: true,
    service: 'whoami',
    listening: [{ address: bound.address, port: bound.port }],
  };
  emit(ready);
}

async function ask(): Promise<void> {
  const server =
    parseHostPort(values.server ?? '') ?? usage('whoami', 'bad or missing --server', SYNOPSIS);
  const bind = values.bind;
  if (bind !== undefined && net.isIP(bind) === 0) usage('whoami', 'bad --bind', SYNOPSIS);
  const timeoutMs =
    values['timeout-ms'] === undefined
      ? DEFAULT_TIMEOUT_MS
      : (parseIntArg(values['timeout-ms'], MAX_TIMEOUT_MS) ??
        usage('whoami', 'bad --timeout-ms', SYNOPSIS));
  const result = await new Promise<WhoamiOutput>((resolve) => {
    const socket = net.connect({
      host: server.address,
      port: server.port,
      ...(bind ? { localAddress: bind } : {}),
    });
    let text = '';
    const finish = (r: WhoamiOutput): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          error: { code: 'timeout', message: `no answer within ${timeoutMs} ms` },
        }),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n'))
        finish({ ok: true, seenAs: text.trim(), local: socket.localAddress ?? '' });
    });
    socket.on('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, error: { code: e.code ?? 'error', message: e.message } }),
    );
  });
  emit(result);
}

const mode = positionals[0];
if (mode === 'serve') await serve();
else if (mode === 'ask') await ask();
else usage('whoami', 'give serve or ask', SYNOPSIS);
