/**
 * A STUN probe for the lab: binds ONE UDP socket and sends a Binding request from it to each
 * server in turn (src/helper/stun's client), then prints a StunProbeOutput line. Using one socket
 * is what makes the answers comparable: the same local ip:port mapped to the same public ip:port
 * for every server is endpoint-independent mapping; different ports mean a symmetric NAT.
 *
 * With --listen-ms, the socket then stays open that long and a second line (StunListenOutput)
 * lists every datagram that arrived: how tests check which senders a NAT lets in.
 *
 *   node --import tsx e2e/lab/stun-probe.ts --server ADDR:PORT [--server ...]
 *        [--local-port N] [--timeout-ms MS] [--listen-ms MS]
 */
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { stunBinding } from '../../src/helper/stun/index.js';
import {
  parseHostPort,
  type HostPort,
  type StunListenOutput,
  type StunProbeAnswer,
  type StunProbeOutput,
} from './script-output.js';
import { emit, parseIntArg, parsePort, usage } from './script-main.js';

const SYNOPSIS =
  'stun-probe.ts --server ADDR:PORT [--server ADDR:PORT ...] [--local-port N] [--timeout-ms MS] [--listen-ms MS]';
/** Inside the lab a round trip takes well under a millisecond; 2 s means "no answer". */
const DEFAULT_TIMEOUT_MS = 2_000;
const MAX_TIMEOUT_MS = 60_000;
/** Retransmit quickly: loss in the lab is a firewall, not congestion. */
const INITIAL_RTO_MS = 250;

const { values } = parseArgs({
  options: {
    server: { type: 'string', multiple: true },
    'local-port': { type: 'string' },
    'timeout-ms': { type: 'string' },
    'listen-ms': { type: 'string' },
  },
  strict: true,
});
const servers: HostPort[] = (values.server ?? []).map(
  (s) => parseHostPort(s) ?? usage('stun-probe', `bad --server ${s}`, SYNOPSIS),
);
if (servers.length === 0) usage('stun-probe', 'at least one --server is required', SYNOPSIS);
const localPort =
  values['local-port'] === undefined
    ? 0
    : (parsePort(values['local-port']) ?? usage('stun-probe', 'bad --local-port', SYNOPSIS));
const timeoutMs =
  values['timeout-ms'] === undefined
    ? DEFAULT_TIMEOUT_MS
    : (parseIntArg(values['timeout-ms'], MAX_TIMEOUT_MS) ??
      usage('stun-probe', 'bad --timeout-ms', SYNOPSIS));

const listenMs =
  values['listen-ms'] === undefined
    ? 0
    : (parseIntArg(values['listen-ms'], MAX_TIMEOUT_MS) ??
      usage('stun-probe', 'bad --listen-ms', SYNOPSIS));

const socket = dgram.createSocket('udp4');
await new Promise<void>((resolve, reject) => {
  socket.once('error', reject);
  socket.bind({ address: '0.0.0.0', port: localPort }, () => {
    socket.off('error', reject);
    resolve();
  });
});
socket.on('error', () => undefined); // send failures surface through the binding's result

const answers: StunProbeAnswer[] = [];
for (const server of servers) {
  const r = await stunBinding(
    socket,
    { host: server.address, port: server.port },
    { timeoutMs, initialRtoMs: INITIAL_RTO_MS },
  );
  answers.push(
    r.ok
      ? {
          ok: true,
          server,
          mapped: { address: r.value.mapped.address, port: r.value.mapped.port },
          rttMs: r.value.rttMs,
        }
      : { ok: false, server, error: { code: r.error.code, message: r.error.message } },
  );
}
const output: StunProbeOutput = {
  local: { address: socket.address().address, port: socket.address().port },
  answers,
};
if (listenMs === 0) {
  socket.close();
  emit(output);
} else {
  const received: StunListenOutput['received'] = [];
  socket.on('message', (packet, rinfo) =>
    received.push({ from: { address: rinfo.address, port: rinfo.port }, bytes: packet.length }),
  );
  emit(output); // listening already, so a sender reacting to this line is not missed
  await sleep(listenMs);
  socket.close();
  const listened: StunListenOutput = { received };
  emit(listened);
}
