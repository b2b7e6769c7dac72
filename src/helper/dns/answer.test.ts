/** MagicDNS's decisions on single queries (pure), including malformed input. */
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleNetmap } from '../../shared/schema/samples.js';
import { handleQuery, MAGIC_DNS_TTL_SECONDS, type ResolverRules } from './answer.js';
import { buildZone, reverseName } from './zone.js';

const netmap = sampleNetmap(2);
const rules: ResolverRules = {
  zone: buildZone({
    ...netmap,
    dns: {
      ...netmap.dns,
      extraRecords: [
        { type: 'A', name: 'git.acme.trellis', value: '100.64.0.2' },
        { type: 'CNAME', name: 'code.acme.trellis', value: 'git.acme.trellis' },
        { type: 'CNAME', name: 'loop.acme.trellis', value: 'loop.acme.trellis' },
        { type: 'TXT', name: 'peer-1.acme.trellis', value: 'x'.repeat(300) },
        { type: 'TXT', name: 'peer-1.acme.trellis', value: 'y'.repeat(300) },
      ],
    },
  }),
  splitDns: new Map([
    ['corp.example.com', [{ address: '10.0.0.53', port: 53 }]],
    ['eu.corp.example.com', [{ address: '10.1.0.53', port: 53 }]],
  ]),
  upstreams: [{ address: '1.1.1.1', port: 53 }],
};

function query(name: string, type: string, opts: { id?: number; edns?: number } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name }],
    ...(opts.edns
      ? {
          additionals: [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: opts.edns,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: 0,
              flag_do: false,
              options: [],
            } as dnsPacket.OptAnswer,
          ],
        }
      : {}),
  });
}

function answer(q: Buffer, transport: 'udp' | 'tcp' = 'udp') {
  const d = handleQuery(q, rules, transport);
  if (d.type !== 'answer') throw new Error(`expected an answer, got ${d.type}`);
  const p = dnsPacket.decode(d.response) as dnsPacket.DecodedPacket & { rcode: string };
  return p;
}

describe('handleQuery', () => {
  it('answers A and AAAA for device FQDNs (any case, trailing dot) with authority', () => {
    const a = answer(query('Peer-1.ACME.trellis.', 'A'));
    expect(a.id).toBe(4242);
    expect(a.rcode).toBe('NOERROR');
    expect(a.flag_aa && a.flag_rd && a.flag_ra).toBe(true);
    expect(a.answers).toEqual([
      expect.objectContaining({ type: 'A', data: '100.64.0.2', ttl: MAGIC_DNS_TTL_SECONDS }),
    ]);
    const aaaa = answer(query('alices-macbook.acme.trellis', 'AAAA'));
    expect(aaaa.answers?.[0]).toMatchObject({ type: 'AAAA', data: 'fd7a:115c:a1e0::1' });
  });

  it('answers NODATA for a known name and another type, NXDOMAIN for unknown mesh names', () => {
    const mx = answer(query('peer-1.acme.trellis', 'MX'));
    expect(mx.rcode).toBe('NOERROR');
    expect(mx.answers).toEqual([]);
    const nx = answer(query('nobody.acme.trellis', 'A'));
    expect(nx.rcode).toBe('NXDOMAIN');
    expect(nx.flag_aa).toBe(true);
  });

  it('follows CNAMEs of extra records inside the zone, and stops a loop', () => {
    const c = answer(query('code.acme.trellis', 'A'));
    expect(c.answers?.map((x) => `${x.type} ${String((x as { data: unknown }).data)}`)).toEqual([
      'CNAME git.acme.trellis',
      'A 100.64.0.2',
    ]);
    expect(answer(query('loop.acme.trellis', 'A')).answers).toHaveLength(8);
  });

  it('answers PTR for device addresses', () => {
    const p = answer(query(reverseName('100.64.0.3') as string, 'PTR'));
    expect(p.answers?.[0]).toMatchObject({ type: 'PTR', data: 'peer-2.acme.trellis' });
    expect(reverseName('fd7a:115c:a1e0::1')).toBe(
      `1.0.0.0.${'0.'.repeat(16)}0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa`,
    );
    const v6 = answer(query(reverseName('fd7a:115c:a1e0::2') as string, 'PTR'));
    expect(v6.answers?.[0]).toMatchObject({ type: 'PTR', data: 'peer-1.acme.trellis' });
  });

  it('forwards split domains (longest match) and everything else to the default upstreams', () => {
    const q1 = query('wiki.eu.corp.example.com', 'A');
    expect(handleQuery(q1, rules, 'udp')).toEqual({
      type: 'forward',
      upstreams: [{ address: '10.1.0.53', port: 53 }],
      query: q1,
    });
    const q2 = query('corp.example.com', 'A');
    expect(handleQuery(q2, rules, 'udp')).toMatchObject({
      upstreams: [{ address: '10.0.0.53', port: 53 }],
    });
    const q3 = query('example.org', 'A');
    expect(handleQuery(q3, rules, 'udp')).toMatchObject({
      type: 'forward',
      upstreams: rules.upstreams,
    });
    const none = handleQuery(q3, { ...rules, upstreams: [] }, 'udp');
    expect(
      none.type === 'answer' &&
        (dnsPacket.decode(none.response) as unknown as { rcode: string }).rcode,
    ).toBe('SERVFAIL');
  });

  it('truncates a UDP answer beyond 512 bytes (or the EDNS size), never a TCP one', () => {
    const udp = answer(query('peer-1.acme.trellis', 'TXT'));
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers).toEqual([]);
    expect(answer(query('peer-1.acme.trellis', 'TXT', { edns: 1232 })).answers).toHaveLength(2);
    expect(answer(query('peer-1.acme.trellis', 'TXT'), 'tcp').answers).toHaveLength(2);
  });

  it('refuses other classes and opcodes, and never answers a response', () => {
    const chaos = dnsPacket.encode({
      type: 'query',
      id: 1,
      questions: [{ type: 'TXT', name: 'version.bind', class: 'CH' }],
    });
    expect((answer(chaos) as { rcode: string }).rcode).toBe('REFUSED');
    const notify = Buffer.from(query('x.acme.trellis', 'A'));
    notify.writeUInt16BE((4 << 11) | 0x0100, 2);
    expect((answer(notify) as { rcode: string }).rcode).toBe('NOTIMP');
    const response = Buffer.from(query('peer-1.acme.trellis', 'A'));
    response.writeUInt16BE(0x8000, 2);
    expect(handleQuery(response, rules, 'udp').type).toBe('drop');
  });

  it('answers FORMERR to a readable header with a broken body, and drops shorter input', () => {
    const broken = Buffer.concat([
      query('peer-1.acme.trellis', 'A').subarray(0, 12),
      Buffer.from([0xff, 0xff]),
    ]);
    const r = answer(broken) as { rcode: string; id?: number };
    expect(r.rcode).toBe('FORMERR');
    expect(r.id).toBe(4242);
    expect(handleQuery(Buffer.from([1, 2, 3]), rules, 'udp').type).toBe('drop');
  });

  it('never throws on arbitrary bytes, and an answer always echoes the id (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, tcp) => {
        const buf = Buffer.from(bytes);
        const d = handleQuery(buf, rules, tcp ? 'tcp' : 'udp');
        if (d.type === 'answer') expect(d.response.readUInt16BE(0)).toBe(buf.readUInt16BE(0));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated valid queries (property)', () => {
    const valid = query('peer-1.acme.trellis', 'AAAA', { edns: 4096 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          maxLength: 8,
        }),
        (flips) => {
          const buf = Buffer.from(valid);
          for (const [i, v] of flips) buf[i] = v;
          handleQuery(buf, rules, 'udp');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
