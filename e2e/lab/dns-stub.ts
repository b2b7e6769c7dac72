/**
 * A fake upstream nameserver for the lab: `dns-stub.ts --host ADDR --port N --answer IPV4`
 * answers every A query over UDP with `answer` (TTL 60) and everything else with NXDOMAIN.
 * Prints a ReadyLine once listening, then one `{"asked": name, "from": address}` line per
 * query; stops on SIGTERM.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';
import { closeOnSignal, emit, parsePort, usage } from './script-main.js';
import type { ReadyLine } from './script-output.js';

const SYNOPSIS = 'dns-stub.ts --host ADDR --port N --answer IPV4';
const { values } = parseArgs({
  options: { host: { type: 'string' }, port: { type: 'string' }, answer: { type: 'string' } },
  strict: true,
});
const host = values.host ?? usage('dns-stub', '--host is required', SYNOPSIS);
if (!net.isIPv4(host)) usage('dns-stub', '--host must be an IPv4 literal', SYNOPSIS);
const port = parsePort(values.port) ?? usage('dns-stub', '--port is required', SYNOPSIS);
const answer = values.answer ?? usage('dns-stub', '--answer is required', SYNOPSIS);
if (!net.isIPv4(answer)) usage('dns-stub', '--answer must be an IPv4 literal', SYNOPSIS);

const socket = dgram.createSocket('udp4');
socket.on('message', (msg, rinfo) => {
  let q: dnsPacket.DecodedPacket;
  try {
    q = dnsPacket.decode(msg);
  } catch {
    return;
  }
  const question = q.questions?.[0];
  if (!question) return;
  emit({ asked: question.name, from: rinfo.address });
  const reply = dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags: dnsPacket.RECURSION_AVAILABLE | (question.type === 'A' ? 0 : 3),
    questions: [question],
    answers:
      question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 60, data: answer }] : [],
  });
  socket.send(reply, rinfo.port, rinfo.address);
});
await new Promise<void>((resolve, reject) => {
  socket.once('error', reject);
  socket.bind(port, host, () => resolve());
});
closeOnSignal(() => new Promise<void>((resolve) => socket.close(() => resolve())));
const ready: ReadyLine = { ready: true, service: 'dns-stub', listening: [{ address: host, port }] };
emit(ready);
