import dgram from 'node:dgram';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeStun,
  encodeBindingRequest,
  encodeBindingSuccess,
  encodeStun,
  findAttribute,
  newTransactionId,
} from '../../shared/stun/index.js';
import type { StunMessage } from '../../shared/stun/index.js';
import {
  type StunServer,
  type StunServerCounters,
  type StunServerLogger,
  startStunServer,
} from './server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof startStunServer>[0]): Promise<StunServer> {
  const s = await startStunServer(options);
  cleanups.push(() => s.close());
  return s;
}

async function socket(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  await new Promise<void>((resolve) => s.bind({ address, port: 0 }, resolve));
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

/** Sends `request` and returns the next datagram, or undefined after `ms`. */
function exchange(
  s: dgram.Socket,
  to: StunServer,
  request: Uint8Array,
  ms = 1000,
  host = to.address().address,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      s.off('message', onMessage);
      resolve(undefined);
    }, ms);
    const onMessage = (packet: Buffer): void => {
      clearTimeout(timer);
      s.off('message', onMessage);
      resolve(packet);
    };
    s.on('message', onMessage);
    s.send(request, to.address().port, host);
  });
}

async function bind(s: dgram.Socket, to: StunServer): Promise<StunMessage> {
  const id = newTransactionId();
  const response = await exchange(s, to, encodeBindingRequest(id));
  if (response === undefined) throw new Error('no response');
  const decoded = decodeStun(response);
  if (!decoded.ok) throw new Error(decoded.error.message);
  expect(decoded.value.transactionId).toEqual(id);
  return decoded.value;
}

async function waitForCounters(s: StunServer, total: number): Promise<StunServerCounters> {
  for (let i = 0; i < 200; i++) {
    const c = s.counters();
    if (c.answered + c.droppedMalformed + c.droppedRateLimited + c.droppedUnsupported >= total)
      return c;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return s.counters();
}

describe('STUN server', () => {
  it('answers an IPv4 Binding request with XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, SOFTWARE, FINGERPRINT', async () => {
    const logger: StunServerLogger = pino({ level: 'silent' }); // the pino logger fits the interface
    const s = await server({ host: '127.0.0.1', port: 0, logger });
    expect(s.address()).toMatchObject({ address: '127.0.0.1', family: 4 });
    expect(s.address().port).toBeGreaterThan(0);
    const client = await socket('udp4', '127.0.0.1');
    const me = { address: '127.0.0.1', port: client.address().port, family: 4 };
    const response = await bind(client, s);
    expect(response.cls).toBe('success');
    expect(response.fingerprint).toBe(true);
    expect(findAttribute(response, 'xor-mapped-address')?.address).toEqual(me);
    expect(findAttribute(response, 'mapped-address')?.address).toEqual(me);
    expect(findAttribute(response, 'software')?.value).toBe('trellis');
    expect(s.counters()).toEqual({
      answered: 1,
      droppedMalformed: 0,
      droppedRateLimited: 0,
      droppedUnsupported: 0,
    });
  });

  it('answers on IPv6 ::1', async () => {
    const s = await server({ host: '::1', port: 0 });
    expect(s.address()).toMatchObject({ address: '::1', family: 6 });
    const client = await socket('udp6', '::1');
    const response = await bind(client, s);
    expect(findAttribute(response, 'xor-mapped-address')?.address).toEqual({
      address: '::1',
      port: client.address().port,
      family: 6,
    });
  });

  it('reports an IPv4 client of an IPv6 socket as IPv4, not ::ffff:…', async () => {
    const s = await server({ host: '::ffff:127.0.0.1', port: 0 });
    const client = await socket('udp4', '127.0.0.1');
    const response = await exchange(
      client,
      s,
      encodeBindingRequest(newTransactionId()),
      1000,
      '127.0.0.1',
    );
    const decoded = response && decodeStun(response);
    expect(decoded?.ok && findAttribute(decoded.value, 'xor-mapped-address')?.address).toEqual({
      address: '127.0.0.1',
      port: client.address().port,
      family: 4,
    });
  });

  it('silently drops garbage, WireGuard, truncated and non-request STUN, and keeps serving', async () => {
    const s = await server({ host: '127.0.0.1', port: 0 });
    const client = await socket('udp4', '127.0.0.1');
    const id = newTransactionId();
    const request = encodeBindingRequest(id);
    const corrupted = request.slice();
    corrupted[25] = (corrupted[25] as number) ^ 0xff; // breaks the FINGERPRINT value
    const wireguardInitiation = new Uint8Array(148);
    wireguardInitiation[0] = 1;
    const indication = encodeStun({
      method: 1,
      cls: 'indication',
      transactionId: id,
      attributes: [],
      fingerprint: true,
    });
    const response = encodeBindingSuccess(id, { address: '127.0.0.1', port: 9, family: 4 });
    const otherMethod = encodeStun({
      method: 0x003,
      cls: 'request',
      transactionId: id,
      attributes: [],
      fingerprint: false,
    });
    const malformed = [
      new Uint8Array(0),
      Uint8Array.of(1, 2, 3),
      wireguardInitiation,
      request.subarray(0, 24),
      corrupted,
    ];
    const unsupported = [indication, response, otherMethod];
    for (const packet of [...malformed, ...unsupported]) {
      expect(await exchange(client, s, packet, 100)).toBeUndefined();
    }
    const counters = await waitForCounters(s, malformed.length + unsupported.length);
    expect(counters).toEqual({
      answered: 0,
      droppedMalformed: malformed.length,
      droppedRateLimited: 0,
      droppedUnsupported: unsupported.length,
    });
    expect((await bind(client, s)).cls).toBe('success');
  });

  it('survives a flood of random datagrams and still answers', async () => {
    const s = await server({ host: '127.0.0.1', port: 0 });
    const client = await socket('udp4', '127.0.0.1');
    const packets = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), 300);
    // In batches, so the kernel's receive buffer does not drop datagrams before the server sees them.
    const BATCH = 30;
    for (let i = 0; i < packets.length; i += BATCH) {
      for (const packet of packets.slice(i, i + BATCH))
        client.send(packet, s.address().port, '127.0.0.1');
      await waitForCounters(s, Math.min(i + BATCH, packets.length));
    }
    expect(s.counters()).toMatchObject({ answered: 0, droppedMalformed: packets.length });
    expect((await bind(client, s)).cls).toBe('success');
  });

  it('rate-limits per source IP with a token bucket', async () => {
    let now = 0;
    const s = await server({
      host: '127.0.0.1',
      port: 0,
      rateLimit: { ratePerSecond: 2, burst: 3 },
      now: () => now,
    });
    const noisy = await socket('udp4', '127.0.0.1');
    const other = await socket('udp4', '127.0.0.2'); // all of 127/8 is loopback on Linux
    const answers: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      answers.push(
        (await exchange(noisy, s, encodeBindingRequest(newTransactionId()), 200)) !== undefined,
      );
    }
    expect(answers).toEqual([true, true, true, false, false]);
    expect((await bind(other, s)).cls).toBe('success'); // another source has its own bucket
    now += 500; // one token at 2/s
    expect((await bind(noisy, s)).cls).toBe('success');
    expect(await exchange(noisy, s, encodeBindingRequest(newTransactionId()), 200)).toBeUndefined();
    expect(s.counters()).toMatchObject({ answered: 5, droppedRateLimited: 3 });
  });

  it('refuses a host that is not an IP literal', async () => {
    await expect(startStunServer({ host: 'localhost', port: 0 })).rejects.toThrow(TypeError);
  });

  it('close() is idempotent and frees the port', async () => {
    const s = await startStunServer({ host: '127.0.0.1', port: 0 });
    const { port } = s.address();
    await Promise.all([s.close(), s.close()]);
    const again = await server({ host: '127.0.0.1', port });
    expect(again.address().port).toBe(port);
  });
});
