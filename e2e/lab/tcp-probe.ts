/**
 * Opens a TCP connection, sends a line and waits for it to come back (from tcp-echo.ts), then
 * prints a TcpProbeOutput line: `node --import tsx e2e/lab/tcp-probe.ts --server ADDR:PORT
 * [--timeout-ms MS]`. Always exits 0 when the arguments are valid: the result is in the JSON.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { parseHostPort, type TcpProbeOutput } from './script-output.js';
import { emit, parseIntArg, usage } from './script-main.js';

const SYNOPSIS = 'tcp-probe.ts --server ADDR:PORT [--timeout-ms MS]';
/** A lab round trip is sub-millisecond; a SYN dropped by a firewall is never answered. */
const DEFAULT_TIMEOUT_MS = 3_000;
const MAX_TIMEOUT_MS = 60_000;
const PAYLOAD = 'trellis-lab-probe\n';

const { values } = parseArgs({
  options: { server: { type: 'string' }, 'timeout-ms': { type: 'string' } },
  strict: true,
});
const server =
  parseHostPort(values.server ?? '') ?? usage('tcp-probe', 'bad or missing --server', SYNOPSIS);
const timeoutMs =
  values['timeout-ms'] === undefined
    ? DEFAULT_TIMEOUT_MS
    : (parseIntArg(values['timeout-ms'], MAX_TIMEOUT_MS) ??
      usage('tcp-probe', 'bad --timeout-ms', SYNOPSIS));

const result = await new Promise<TcpProbeOutput>((resolve) => {
  const started = performance.now();
  const socket = net.connect({ host: server.address, port: server.port });
  let received = '';
  const finish = (r: TcpProbeOutput): void => {
    clearTimeout(timer);
    socket.destroy();
    resolve(r);
  };
  const timer = setTimeout(
    () =>
      finish({
        ok: false,
        server,
        error: { code: 'timeout', message: `no echo within ${timeoutMs} ms` },
      }),
    timeoutMs,
  );
  socket.setEncoding('utf8');
  socket.on('connect', () => socket.write(PAYLOAD));
  socket.on('data', (chunk: string) => {
    received += chunk;
    if (received.length < PAYLOAD.length) return;
    finish(
      received === PAYLOAD
        ? {
            ok: true,
            server,
            local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
            rttMs: performance.now() - started,
          }
        : { ok: false, server, error: { code: 'bad-echo', message: JSON.stringify(received) } },
    );
  });
  socket.on('error', (e: NodeJS.ErrnoException) =>
    finish({ ok: false, server, error: { code: e.code ?? 'error', message: e.message } }),
  );
});
emit(result);
