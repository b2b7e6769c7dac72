import dgram from 'node:dgram';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Addr,
  decodeStun,
  encodeBindingError,
  encodeBindingSuccess,
  encodeStun,
  newTransactionId,
} from '../../shared/stun/index.js';
import { type StunServer, startStunServer } from '../../control/stun/index.js';
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, INITIAL_RTO_MS, StunClient } from './client.js';
import { stunBinding } from './binding.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(host: string): Promise<StunServer> {
  const s = await startStunServer({ host, port: 0 });
  cleanups.push(() => s.close());
  return s;
}

async function socket(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  await new Promise<void>((resolve) => s.bind({ address, port: 0 }, resolve));
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

const endpoint = (s: StunServer) => ({ host: s.address().address, port: s.address().port });

/** A client whose `send` records requests; the test plays the server by calling `handle`. */
function recordingClient() {
  const sent: Uint8Array[] = [];
  const client = new StunClient({
    send: async (packet) => void sent.push(packet),
    now: () => Date.now(),
  });
  const idOf = (i: number): Uint8Array => {
    const decoded = decodeStun(sent[i]!);
    if (!decoded.ok) throw new Error(decoded.error.message);
    return decoded.value.transactionId;
  };
  return { client, sent, idOf };
}

const mapped: Addr = { address: '198.51.100.7', port: 40000, family: 4 };
const there = { host: '192.0.2.1', port: 3478 }; // never contacted: `send` only records

describe('StunClient over a real socket', () => {
  it('learns its reflexive address from our server over IPv4 (caller-owned socket)', async () => {
    const s = await server('127.0.0.1');
    const local = await socket('udp4', '127.0.0.1');
    const result = await stunBinding(local, endpoint(s), { timeoutMs: 2000 });
    if (!result.ok) throw new Error(result.error.message);
    expect(result.value.mapped).toEqual({
      address: '127.0.0.1',
      port: local.address().port,
      family: 4,
    });
    expect(result.value.server).toEqual({
      address: '127.0.0.1',
      port: s.address().port,
      family: 4,
    });
    expect(result.value.rttMs).toBeGreaterThanOrEqual(0);
    expect(result.value.rttMs).toBeLessThan(2000);
    expect(local.listenerCount('message')).toBe(0); // the temporary listener is removed
  });

  it('learns its reflexive address over IPv6 ::1 with a socket of its own', async () => {
    const s = await server('::1');
    const result = await stunBinding({ host: '::1', port: 0 }, endpoint(s));
    expect(result.ok && result.value.mapped.family).toBe(6);
    expect(result.ok && result.value.mapped.address).toBe('::1');
  });

  it('retransmits to a server that drops the first requests, each as a fresh transaction', async () => {
    const lossy = await socket('udp4', '127.0.0.1');
    const seen: string[] = [];
    lossy.on('message', (packet, rinfo) => {
      const decoded = decodeStun(packet);
      if (!decoded.ok) return;
      seen.push(Buffer.from(decoded.value.transactionId).toString('hex'));
      if (seen.length < 3) return; // drop the first two
      const from: Addr = { address: rinfo.address, port: rinfo.port, family: 4 };
      lossy.send(
        encodeBindingSuccess(decoded.value.transactionId, from),
        rinfo.port,
        rinfo.address,
      );
    });
    const result = await stunBinding(
      { host: '127.0.0.1', port: 0 },
      { host: '127.0.0.1', port: lossy.address().port },
      {
        initialRtoMs: 200,
        retries: 3,
        timeoutMs: 5000,
      },
    );
    expect(result.ok).toBe(true);
    expect(seen.length).toBe(3);
    expect(new Set(seen).size).toBe(3);
    // The RTT is that of the answered (third) transmission, not time since the first.
    expect(result.ok && result.value.rttMs).toBeLessThan(200 + 400);
  });

  it('times out against a silent server', async () => {
    const silent = await socket('udp4', '127.0.0.1');
    let received = 0;
    silent.on('message', () => received++);
    const result = await stunBinding(
      { host: '127.0.0.1', port: 0 },
      { host: '127.0.0.1', port: silent.address().port },
      {
        initialRtoMs: 20,
        retries: 2,
        timeoutMs: 200,
      },
    );
    expect(result.ok ? 'ok' : result.error.code).toBe('timeout');
    expect(received).toBe(3);
  });

  it('reports bind and send failures as results', async () => {
    const bindFailure = await stunBinding(
      { host: '192.0.2.1', port: 0 },
      { host: '127.0.0.1', port: 9 },
    );
    expect(bindFailure.ok ? 'ok' : bindFailure.error.code).toBe('bind-failed');
    const local = await socket('udp4', '127.0.0.1');
    const sendFailure = await stunBinding(local, { host: '::1', port: 9 }, { timeoutMs: 500 });
    expect(sendFailure.ok ? 'ok' : sendFailure.error.code).toBe('send-failed');
  });
});

describe('StunClient transaction matching (caller feeds packets to handle)', () => {
  it('follows the default RFC-style schedule: 0, RTO, 3×RTO, then the deadline', async () => {
    vi.useFakeTimers();
    const { client, sent } = recordingClient();
    const pending = client.binding(there);
    expect(sent.length).toBe(1);
    await vi.advanceTimersByTimeAsync(INITIAL_RTO_MS);
    expect(sent.length).toBe(2);
    await vi.advanceTimersByTimeAsync(2 * INITIAL_RTO_MS);
    expect(sent.length).toBe(3);
    await vi.advanceTimersByTimeAsync(DEFAULT_TIMEOUT_MS);
    expect(sent.length).toBe(DEFAULT_RETRIES + 1);
    const result = await pending;
    expect(result.ok ? 'ok' : result.error.code).toBe('timeout');
  });

  it('ignores unknown ids, requests, garbage and WireGuard; accepts each answer once', async () => {
    vi.useFakeTimers();
    const { client, sent, idOf } = recordingClient();
    const pending = client.binding(there);
    await vi.advanceTimersByTimeAsync(INITIAL_RTO_MS); // two transmissions now
    expect(sent.length).toBe(2);
    const wireguard = new Uint8Array(148);
    wireguard[0] = 1;
    expect(client.handle(encodeBindingSuccess(newTransactionId(), mapped))).toBe(false);
    expect(client.handle(sent[0]!)).toBe(false); // our own request echoed back
    expect(client.handle(Uint8Array.of(1, 2, 3))).toBe(false);
    expect(client.handle(wireguard)).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    expect(client.handle(encodeBindingSuccess(idOf(0), mapped))).toBe(true); // the first transmission
    expect(client.handle(encodeBindingSuccess(idOf(1), mapped))).toBe(false); // binding already done
    const result = await pending;
    expect(result.ok && result.value).toEqual({ mapped, rttMs: INITIAL_RTO_MS + 10 });
  });

  it('turns an error response into error-response and a response without address into bad-response', async () => {
    const { client, idOf } = recordingClient();
    const first = client.binding(there);
    client.handle(encodeBindingError(idOf(0), 401, 'Unauthorized'));
    expect(await first).toEqual({
      ok: false,
      error: { code: 'error-response', errorCode: 401, message: 'STUN error 401 Unauthorized' },
    });
    const second = client.binding(there);
    client.handle(
      encodeStun({
        method: 1,
        cls: 'success',
        transactionId: idOf(1),
        attributes: [],
        fingerprint: true,
      }),
    );
    const result = await second;
    expect(result.ok ? 'ok' : result.error.code).toBe('bad-response');
  });

  it('accepts a legacy MAPPED-ADDRESS-only answer', async () => {
    const { client, idOf } = recordingClient();
    const pending = client.binding(there);
    client.handle(
      encodeStun({
        method: 1,
        cls: 'success',
        transactionId: idOf(0),
        attributes: [{ kind: 'mapped-address', address: mapped }],
        fingerprint: false,
      }),
    );
    const result = await pending;
    expect(result.ok && result.value.mapped).toEqual(mapped);
  });

  it('reports a send delegate that throws as send-failed', async () => {
    const client = new StunClient({
      send: () => {
        throw new Error('EPERM');
      },
    });
    const result = await client.binding(there, { timeoutMs: 1000 });
    expect(result).toEqual({ ok: false, error: { code: 'send-failed', message: 'EPERM' } });
  });

  it('rejects an over-long SOFTWARE at construction, not mid-binding', () => {
    expect(
      () => new StunClient({ send: async () => undefined, software: 'x'.repeat(800) }),
    ).toThrow(RangeError);
  });

  it('close() fails pending bindings and refuses new ones', async () => {
    const { client } = recordingClient();
    const pending = client.binding(there);
    client.close();
    expect((await pending).ok).toBe(false);
    const after = await client.binding(there);
    expect(after.ok ? 'ok' : after.error.code).toBe('closed');
  });
});
