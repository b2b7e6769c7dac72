/**
 * MagicDNS over real sockets on loopback: dig-like queries (dns-packet over UDP and TCP) to the
 * server, which answers mesh names itself and forwards the rest to fake upstream nameservers
 * that this test runs.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sampleNetmap } from '../../shared/schema/samples.js';
import { silentLogger } from '../daemon/log.js';
import type { Upstream } from './answer.js';
import { UpstreamForwarder, type Forwarder } from './forward.js';
import { MagicDnsServer, type ResolverConfig } from './server.js';
import { buildZone } from './zone.js';

type Decoded = dnsPacket.DecodedPacket & { rcode: string };

/** A nameserver on 127.0.0.1 (UDP and TCP, same port) answering every A query with `address`. */
async function fakeUpstream(address: string, opts: { wrongId?: boolean } = {}) {
  const seen: string[] = [];
  const answer = (q: Buffer): Buffer => {
    const p = dnsPacket.decode(q);
    const name = p.questions?.[0]?.name ?? '';
    seen.push(name);
    return dnsPacket.encode({
      type: 'response',
      id: opts.wrongId ? ((p.id ?? 0) + 1) & 0xffff : p.id,
      flags: dnsPacket.RECURSION_AVAILABLE,
      questions: p.questions,
      answers: [{ type: 'A', name, ttl: 60, data: address }],
    });
  };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const port = udp.address().port;
  udp.on('message', (m, rinfo) => udp.send(answer(m), rinfo.port, rinfo.address));
  const tcp = net.createServer((c) => {
    c.once('data', (d: Buffer) => {
      const a = answer(d.subarray(2, 2 + d.readUInt16BE(0)));
      const framed = Buffer.alloc(2 + a.length);
      framed.writeUInt16BE(a.length, 0);
      a.copy(framed, 2);
      c.end(framed);
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', r));
  return {
    upstream: { address: '127.0.0.1', port } as Upstream,
    seen,
    close: async () => {
      udp.close();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

function query(name: string, type: dnsPacket.RecordType = 'A', id = 777): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
  });
}

/** One UDP exchange, like `dig`; null on timeout. */
function digUdp(port: number, q: Buffer, timeoutMs = 3000): Promise<Decoded | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(null);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(dnsPacket.decode(m) as Decoded);
    });
    s.send(q, port, '127.0.0.1');
  });
}

/** Several queries pipelined on one TCP connection; the answers in order. */
function digTcp(port: number, queries: Buffer[]): Promise<Decoded[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const out: Decoded[] = [];
    c.on('error', reject);
    c.on('connect', () => {
      for (const q of queries) {
        const f = Buffer.alloc(2 + q.length);
        f.writeUInt16BE(q.length, 0);
        q.copy(f, 2);
        c.write(f);
      }
    });
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        out.push(dnsPacket.decode(buf.subarray(2, 2 + len)) as Decoded);
        buf = buf.subarray(2 + len);
      }
      if (out.length === queries.length) {
        c.end();
        resolve(out);
      }
    });
  });
}

const netmap = sampleNetmap(2);
let upstreamDefault: Awaited<ReturnType<typeof fakeUpstream>>;
let upstreamCorp: Awaited<ReturnType<typeof fakeUpstream>>;
let server: MagicDnsServer | null = null;

function config(over: Partial<ResolverConfig> = {}): ResolverConfig {
  return {
    listen: ['127.0.0.1'],
    port: 0,
    zone: buildZone(netmap),
    splitDns: new Map([['corp.example.com', [upstreamCorp.upstream]]]),
    upstreams: [upstreamDefault.upstream],
    ...over,
  };
}

async function start(over: Partial<ResolverConfig> = {}, forwarder?: Forwarder) {
  server = new MagicDnsServer({
    log: silentLogger,
    forwarder: forwarder ?? new UpstreamForwarder({ udpMs: 400, tcpMs: 800 }),
  });
  expect(await server.update(config(over))).toEqual([]);
  const [bound] = server.addresses();
  if (!bound) throw new Error('not listening');
  return bound.port;
}

beforeAll(async () => {
  upstreamDefault = await fakeUpstream('198.51.100.1');
  upstreamCorp = await fakeUpstream('10.9.9.9');
});
afterAll(async () => {
  await upstreamDefault.close();
  await upstreamCorp.close();
});
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('MagicDnsServer on loopback', () => {
  it('answers a peer’s name with its address over UDP', async () => {
    const port = await start();
    const r = await digUdp(port, query('peer-2.acme.trellis'));
    expect(r?.rcode).toBe('NOERROR');
    expect(r?.id).toBe(777);
    expect(r?.answers).toEqual([expect.objectContaining({ type: 'A', data: '100.64.0.3' })]);
  });

  it('sends a split-DNS domain to its own nameserver, and other names to the default one', async () => {
    const port = await start();
    const corp = await digUdp(port, query('wiki.corp.example.com', 'A', 1));
    expect(corp?.answers?.[0]).toMatchObject({ data: '10.9.9.9' });
    expect(corp?.id).toBe(1);
    expect(upstreamCorp.seen).toContain('wiki.corp.example.com');
    const other = await digUdp(port, query('example.org', 'A', 2));
    expect(other?.answers?.[0]).toMatchObject({ data: '198.51.100.1' });
    expect(upstreamDefault.seen).toContain('example.org');
    expect(upstreamCorp.seen).not.toContain('example.org');
  });

  it('answers pipelined TCP queries in order, forwarding over TCP', async () => {
    const port = await start();
    const [a, b, c] = await digTcp(port, [
      query('peer-1.acme.trellis', 'AAAA', 10),
      query('tcp.corp.example.com', 'A', 11),
      query('nobody.acme.trellis', 'A', 12),
    ]);
    expect(a?.answers?.[0]).toMatchObject({ type: 'AAAA', data: 'fd7a:115c:a1e0::2' });
    expect(b?.id).toBe(11);
    expect(b?.answers?.[0]).toMatchObject({ data: '10.9.9.9' });
    expect(c?.rcode).toBe('NXDOMAIN');
  });

  it('answers SERVFAIL when the upstream is silent or answers with the wrong id', async () => {
    const liar = await fakeUpstream('6.6.6.6', { wrongId: true });
    try {
      const port = await start({ upstreams: [liar.upstream] });
      const r = await digUdp(port, query('example.net'));
      expect(r?.rcode).toBe('SERVFAIL');
      expect(liar.seen).toContain('example.net');
    } finally {
      await liar.close();
    }
  });

  it('follows updates: new names, and no listener after update(null)', async () => {
    const port = await start();
    expect((await digUdp(port, query('peer-3.acme.trellis')))?.rcode).toBe('NXDOMAIN');
    await server!.update(config({ zone: buildZone(sampleNetmap(3)) }));
    expect(server!.addresses()).toEqual([{ address: '127.0.0.1', port }]);
    expect((await digUdp(port, query('peer-3.acme.trellis')))?.answers?.[0]).toMatchObject({
      data: '100.64.0.4',
    });
    await server!.update(null);
    expect(server!.addresses()).toEqual([]);
    expect(await digUdp(port, query('peer-1.acme.trellis'), 500)).toBeNull();
  });

  it('reports an address it cannot listen on instead of throwing', async () => {
    server = new MagicDnsServer({ log: silentLogger });
    const problems = await server.update(config({ listen: ['192.0.2.77'] }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/192\.0\.2\.77/);
  });

  it('falls back to the nameservers the system had before, never to itself', async () => {
    const asked: Upstream[][] = [];
    const recorder: Forwarder = {
      forward: async (_q, upstreams) => {
        asked.push([...upstreams]);
        return null;
      },
    };
    server = new MagicDnsServer({
      log: silentLogger,
      forwarder: recorder,
      readResolvConf: async () =>
        '# Written by trellisd for MagicDNS; the original below is restored when trellisd stops.\n' +
        '# trellisd-original: present\n# |nameserver 192.168.1.1\n# |nameserver 100.100.100.100\n' +
        'nameserver 100.100.100.100\n',
    });
    await server.update(config({ upstreams: 'system' }));
    const port = server.addresses()[0]!.port;
    expect((await digUdp(port, query('example.com')))?.rcode).toBe('SERVFAIL');
    expect(asked).toEqual([[{ address: '192.168.1.1', port: 53 }]]);
  });

  it('survives garbage on UDP and TCP and keeps answering', async () => {
    const port = await start();
    const s = dgram.createSocket('udp4');
    for (const junk of [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(600, 0xff)]) {
      s.send(junk, port, '127.0.0.1');
    }
    s.close();
    await new Promise<void>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.write(Buffer.from([0x00, 0x05, 1, 2, 3, 4, 5]));
      });
      c.on('close', () => resolve());
      c.on('error', () => resolve());
    });
    expect((await digUdp(port, query('peer-1.acme.trellis')))?.answers).toHaveLength(1);
  });
});
