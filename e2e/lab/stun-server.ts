/**
 * Our STUN server (src/control/stun) as a standalone program, so it can run inside a lab
 * namespace: `node --import tsx e2e/lab/stun-server.ts --host ADDR --port N`. Prints a ReadyLine
 * once bound; stops on SIGTERM.
 */
import { parseArgs } from 'node:util';
import net from 'node:net';
import { startStunServer } from '../../src/control/stun/index.js';
import type { ReadyLine } from './script-output.js';
import { closeOnSignal, emit, parsePort, usage } from './script-main.js';

const SYNOPSIS = 'stun-server.ts --host ADDR --port N';
/**
 * Lab tests probe from many devices behind one NAT address in quick succession; the production
 * per-source limit (20/s, burst 40) is generous enough, but the lab has no reason to drop anything.
 */
const LAB_RATE_LIMIT = { ratePerSecond: 10_000, burst: 10_000 };

const { values } = parseArgs({
  options: { host: { type: 'string' }, port: { type: 'string' } },
  strict: true,
});
const host = values.host ?? usage('stun-server', '--host is required', SYNOPSIS);
if (net.isIP(host) === 0) usage('stun-server', `--host must be an IP literal: ${host}`, SYNOPSIS);
const port = parsePort(values.port) ?? usage('stun-server', '--port N is required', SYNOPSIS);

const server = await startStunServer({ host, port, rateLimit: LAB_RATE_LIMIT });
closeOnSignal(() => server.close());
const bound = server.address();
const ready: ReadyLine = {
  ready: true,
  service: 'stun',
  listening: [{ address: bound.address, port: bound.port }],
};
emit(ready);
