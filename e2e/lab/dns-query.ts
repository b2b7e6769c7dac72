/**
 * A `dig` for the lab, built on dns-packet: `dns-query.ts --server ADDR[:PORT] --name NAME
 * [--type A|AAAA|PTR|TXT] [--tcp] [--timeout-ms MS]` sends one query and prints a DnsQueryOutput
 * line; it exits 0 whenever its arguments are valid.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { parseArgs } from 'node:util';
import * as dnsPacket from 'dns-packet';
import type { DnsQueryOutput } from './device-probes.js';
import { emit, parseIntArg, usage } from './script-main.js';
import { parseHostPort } from './script-output.js';

const SYNOPSIS =
  'dns-query.ts --server ADDR[:PORT] --name NAME [--type A|AAAA|PTR|TXT] [--tcp] [--timeout-ms MS]';
const TYPES = ['A', 'AAAA', 'PTR', 'TXT'] as const;
const DEFAULT_TIMEOUT_MS = 3_000;
const MAX_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    name: { type: 'string' },
    type: { type: 'string' },
    tcp: { type: 'boolean' },
    'timeout-ms': { type: 'string' },
  },
  strict: true,
});
const serverText = values.server ?? usage('dns-query', '--server is required', SYNOPSIS);
const server =
  parseHostPort(serverText) ??
  (net.isIPv4(serverText) ? { address: serverText, port: 53 } : undefined) ??
  usage('dns-query', 'bad --server', SYNOPSIS);
const name = values.name ?? usage('dns-query', '--name is required', SYNOPSIS);
const type = (values.type ?? 'A') as (typeof TYPES)[number];
if (!TYPES.includes(type))
  usage('dns-query', `--type must be one of ${TYPES.join(', ')}`, SYNOPSIS);
const timeoutMs =
  values['timeout-ms'] === undefined
    ? DEFAULT_TIMEOUT_MS
    : (parseIntArg(values['timeout-ms'], MAX_TIMEOUT_MS) ??
      usage('dns-query', 'bad --timeout-ms', SYNOPSIS));

const query = dnsPacket.encode({
  type: 'query',
  id: Math.floor(Math.random() * 65536),
  flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ type, name }],
});

function exchange(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const done = (f: () => void) => {
      clearTimeout(timer);
      f();
    };
    if (!values.tcp) {
      const s = dgram.createSocket('udp4');
      s.on('error', (e) => done(() => (s.close(), reject(e))));
      s.on('message', (m) => done(() => (s.close(), resolve(m))));
      s.send(query, server.port, server.address);
      return;
    }
    const c = net.connect(server.port, server.address);
    let buf = Buffer.alloc(0);
    c.on('error', (e) => done(() => reject(e)));
    c.on('connect', () => {
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      query.copy(framed, 2);
      c.write(framed);
    });
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        done(() => {
          c.destroy();
          resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        });
      }
    });
  });
}

/** A record's data as text: addresses and names as they are, TXT strings joined. */
function dataText(a: dnsPacket.Answer): string {
  const data: unknown = 'data' in a ? a.data : '';
  const one = (d: unknown): string => (Buffer.isBuffer(d) ? d.toString('utf8') : String(d));
  return Array.isArray(data) ? data.map(one).join('') : one(data);
}

let out: DnsQueryOutput;
try {
  const p = dnsPacket.decode(await exchange()) as dnsPacket.DecodedPacket & { rcode?: string };
  out = {
    ok: true,
    rcode: p.rcode ?? 'UNKNOWN',
    answers: (p.answers ?? []).map((a) => ({ type: a.type, name: a.name, data: dataText(a) })),
  };
} catch (e) {
  out = { ok: false, error: { code: 'failed', message: (e as Error).message } };
}
emit(out);
