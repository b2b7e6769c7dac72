/**
 * UdpPortMapClient against a scripted gateway on loopback (real UDP): PCP preferred, NAT-PMP when
 * PCP is not spoken, hostile answers ignored (UPnP off here: upnp-client.test.ts covers it, and
 * the fall-back to it). miniupnpd itself is exercised in e2e/portmap*.test.ts.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpPortMapClient } from './client.js';

type Responder = (req: Buffer) => (Uint8Array | Buffer)[];

const sockets: dgram.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function gateway(respond: Responder): Promise<{ port: number; requests: Buffer[] }> {
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  const requests: Buffer[] = [];
  socket.on('message', (req, rinfo) => {
    requests.push(req);
    for (const answer of respond(req)) socket.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { port: socket.address().port, requests };
}

const natPmpAddress = (epoch: number) =>
  Buffer.from([0, 128, 0, 0, 0, 0, 0, epoch, 203, 0, 113, 7]);
function natPmpMap(req: Buffer, externalPort: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(129, 1);
  b.writeUInt32BE(3, 4);
  b.writeUInt16BE(req.readUInt16BE(4), 8);
  b.writeUInt16BE(externalPort, 10);
  b.writeUInt32BE(req.readUInt32BE(8), 12);
  return b;
}
function pcpMap(req: Buffer, externalPort: number, nonce?: Buffer): Buffer {
  const b = Buffer.alloc(60);
  b.writeUInt8(2, 0);
  b.writeUInt8(0x81, 1);
  b.writeUInt32BE(req.readUInt32BE(4), 4);
  b.writeUInt32BE(11, 8);
  (nonce ?? req.subarray(24, 36)).copy(b, 24);
  b.writeUInt8(17, 36);
  b.writeUInt16BE(req.readUInt16BE(40), 40);
  b.writeUInt16BE(externalPort, 42);
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9]).copy(b, 44);
  return b;
}
/** A NAT-PMP-only server's answer to anything of another version (RFC 6886 §3.5). */
const unsupportedVersion = Buffer.from([0, 128, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);

describe('UdpPortMapClient', () => {
  it('maps over PCP when spoken, ignoring garbage and answers with another nonce', async () => {
    const gw = await gateway((req) =>
      req[0] === 2 && req[1] === 1
        ? [Buffer.from('garbage'), pcpMap(req, 1111, Buffer.alloc(12, 9)), pcpMap(req, 50001)]
        : [],
    );
    const client = new UdpPortMapClient({ serverPort: gw.port, upnp: null });
    const r = await client.map('127.0.0.1', 41641, null);
    expect(r).toMatchObject({
      ok: true,
      value: {
        protocol: 'pcp',
        externalAddress: '203.0.113.9',
        externalPort: 50001,
        internalPort: 41641,
        lifetimeSec: 7200,
        epoch: 11,
      },
    });
    // The request named our address (IPv4-mapped) and suggested keeping the port.
    const req = gw.requests.find((x) => x[0] === 2)!;
    expect([...req.subarray(8, 24)]).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 127, 0, 0, 1,
    ]);
    expect(req.readUInt16BE(42)).toBe(41641);
  });

  it('falls back to NAT-PMP, and probes report what answered', async () => {
    const gw = await gateway((req) => {
      if (req[0] !== 0) return [unsupportedVersion];
      return req[1] === 0 ? [natPmpAddress(5)] : [natPmpMap(req, 50002)];
    });
    const client = new UdpPortMapClient({ serverPort: gw.port, upnp: null });
    expect(await client.probe('127.0.0.1')).toEqual({
      support: { upnp: false, natPmp: true, pcp: false },
      epoch: 5,
    });
    const r = await client.map('127.0.0.1', 41641, null);
    expect(r).toMatchObject({
      ok: true,
      value: { protocol: 'nat-pmp', externalAddress: '203.0.113.7', externalPort: 50002 },
    });
    // Delete: lifetime 0, external port 0 (RFC 6886 §3.4).
    if (!r.ok) throw new Error('unreachable');
    await client.unmap(r.value);
    const del = gw.requests.at(-1)!;
    expect([...del]).toEqual([0, 1, 0, 0, 0xa2, 0xa9, 0, 0, 0, 0, 0, 0]);
  });

  it('gives typed errors for silence and refusals, never throws', async () => {
    const silent = await gateway(() => []);
    const client = new UdpPortMapClient({ serverPort: silent.port, timeoutMs: 300, upnp: null });
    expect(await client.map('127.0.0.1', 41641, null)).toMatchObject({
      ok: false,
      error: { code: 'no-answer' },
    });
    expect((await client.probe('127.0.0.1')).support).toEqual({
      upnp: false,
      natPmp: false,
      pcp: false,
    });
    // NAT-PMP "not authorized" (result 2).
    const refusing = await gateway((req) =>
      req[0] === 0 ? [Buffer.from([0, 128 + req[1]!, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0])] : [],
    );
    const r = await new UdpPortMapClient({
      serverPort: refusing.port,
      timeoutMs: 300,
      upnp: null,
    }).map('127.0.0.1', 41641, null);
    expect(r).toMatchObject({ ok: false, error: { code: 'refused' } });
  });
});
