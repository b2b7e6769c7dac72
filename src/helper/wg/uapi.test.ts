import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, keyToBase64, keyToHex } from '../../shared/keys.js';
import type { WgConfigDiff } from './diff.js';
import { WgError } from './types.js';
import {
  encodeSetRequest,
  MAX_UAPI_RESPONSE_BYTES,
  parseGetResponse,
  parseSetResponse,
  statsFromState,
  uapiGet,
  uapiSet,
  type UapiDeviceState,
  type UapiErrorCode,
} from './uapi.js';
import { applySetRequest, emptyDeviceState, encodeGetResponse } from './uapi-model.js';

const priv = generateKeyPair().privateKey;
const pubA = generateKeyPair().publicKey;
const pubB = generateKeyPair().publicKey;
const hexA = keyToHex(pubA);
const hexB = keyToHex(pubB);

/** Shaped like wireguard-go 0.0.20220316's answer to get=1. */
const REAL_GET = [
  `private_key=${keyToHex(priv)}`,
  'listen_port=51820',
  'fwmark=84',
  `public_key=${hexA}`,
  `preshared_key=${'0'.repeat(64)}`,
  'protocol_version=1',
  'endpoint=10.99.0.2:51820',
  'last_handshake_time_sec=1764032251',
  'last_handshake_time_nsec=123456789',
  'tx_bytes=1184',
  'rx_bytes=1036',
  'persistent_keepalive_interval=25',
  'allowed_ip=100.64.0.2/32',
  'allowed_ip=fd7a::2/128',
  `public_key=${hexB}`,
  'protocol_version=1',
  'last_handshake_time_sec=0',
  'last_handshake_time_nsec=0',
  'tx_bytes=0',
  'rx_bytes=0',
  'persistent_keepalive_interval=0',
  'errno=0',
  '',
  '',
].join('\n');

function errorCode(text: string): UapiErrorCode {
  const r = parseGetResponse(text);
  if (r.ok) throw new Error('expected a parse error');
  return r.error.code;
}

describe('parseGetResponse', () => {
  it('reads device and peer state, keys as base64', () => {
    const r = parseGetResponse(REAL_GET);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.privateKey).toBe(keyToBase64(priv));
    expect(r.value.listenPort).toBe(51820);
    expect(r.value.fwmark).toBe(84);
    const [a, b] = r.value.peers;
    expect(a).toEqual({
      publicKey: keyToBase64(pubA),
      endpoint: '10.99.0.2:51820',
      allowedIps: ['100.64.0.2/32', 'fd7a::2/128'],
      persistentKeepalive: 25,
      lastHandshake: new Date(1764032251 * 1000 + 123),
      rxBytes: 1036,
      txBytes: 1184,
    });
    expect(b?.lastHandshake).toBeNull();
    expect(b?.endpoint).toBeNull();
    expect(statsFromState(r.value)).toEqual({
      listenPort: 51820,
      peers: [
        {
          publicKey: keyToBase64(pubA),
          endpoint: '10.99.0.2:51820',
          lastHandshake: new Date(1764032251 * 1000 + 123),
          rxBytes: 1036,
          txBytes: 1184,
        },
        {
          publicKey: keyToBase64(pubB),
          endpoint: null,
          lastHandshake: null,
          rxBytes: 0,
          txBytes: 0,
        },
      ],
    });
  });

  it('returns the device errno as a typed error', () => {
    const r = parseGetResponse('errno=-22\n\n');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('errno');
      expect(r.error.errno).toBe(-22);
    }
  });

  it('skips keys it does not know, and accepts a zoned link-local endpoint learned from a peer', () => {
    const r = parseGetResponse(
      `future_key=1\npublic_key=${hexA}\nendpoint=[fe80::1%eth0]:51820\nfuture_peer_key=x\nerrno=0\n\n`,
    );
    expect(r.ok && r.value.peers[0]?.endpoint).toBe('[fe80::1%eth0]:51820');
  });

  it('rejects malformed responses with typed errors', () => {
    expect(errorCode('listen_port=1\nerrno=0\n')).toBe('truncated');
    expect(errorCode('listen_port=1\n\n')).toBe('missing_errno');
    expect(errorCode('garbage\nerrno=0\n\n')).toBe('malformed');
    expect(errorCode('listen_port=1\n\nerrno=0\n\n')).toBe('malformed');
    expect(errorCode('errno=0\nlisten_port=1\nerrno=0\n\n')).toBe('malformed');
    expect(errorCode('endpoint=1.2.3.4:5\nerrno=0\n\n')).toBe('unexpected_key');
    expect(errorCode(`public_key=${hexA}\nlisten_port=1\nerrno=0\n\n`)).toBe('unexpected_key');
    expect(errorCode('listen_port=65536\nerrno=0\n\n')).toBe('bad_value');
    expect(errorCode('public_key=abc\nerrno=0\n\n')).toBe('bad_value');
    expect(errorCode(`public_key=${hexA}\npublic_key=${hexA}\nerrno=0\n\n`)).toBe('bad_value');
    expect(errorCode(`public_key=${hexA}\nallowed_ip=10.0.0.0/40\nerrno=0\n\n`)).toBe('bad_value');
    expect(errorCode(`public_key=${hexA}\nendpoint=host:1\nerrno=0\n\n`)).toBe('bad_value');
    expect(errorCode(`public_key=${hexA}\nrx_bytes=-1\nerrno=0\n\n`)).toBe('bad_value');
    expect(errorCode(`public_key=${hexA}\nrx_bytes=18446744073709551616\nerrno=0\n\n`)).toBe(
      'bad_value',
    );
    expect(
      errorCode(`public_key=${hexA}\nlast_handshake_time_sec=99999999999999\nerrno=0\n\n`),
    ).toBe('bad_value');
    expect(errorCode('errno=x\n\n')).toBe('bad_value');
    expect(errorCode(`${'x'.repeat(MAX_UAPI_RESPONSE_BYTES)}errno=0\n\n`)).toBe('too_large');
  });

  const CODES: readonly string[] = [
    'too_large',
    'truncated',
    'malformed',
    'bad_value',
    'unexpected_key',
    'missing_errno',
    'errno',
  ];

  it('never throws on random input and only returns known error codes', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        for (const text of [s, `${s}\n\n`, `${s}\nerrno=0\n\n`]) {
          const r = parseGetResponse(text);
          if (!r.ok) expect(CODES).toContain(r.error.code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated real responses (bounded output)', () => {
    const lines = REAL_GET.slice(0, -2).split('\n');
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
      fc.record({
        op: fc.constant('edit' as const),
        at: fc.nat(),
        text: fc.string({ maxLength: 30 }),
      }),
      fc.record({
        op: fc.constant('value' as const),
        at: fc.nat(),
        text: fc.string({ maxLength: 30 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 6 }), (ms) => {
        const ls = [...lines];
        for (const m of ms) {
          const i = m.at % ls.length;
          if (m.op === 'drop') ls.splice(i, 1);
          else if (m.op === 'dup') ls.splice(i, 0, ls[i] ?? '');
          else if (m.op === 'swap') {
            const j = m.to % ls.length;
            [ls[i], ls[j]] = [ls[j] ?? '', ls[i] ?? ''];
          } else if (m.op === 'edit') ls[i] = m.text;
          else ls[i] = `${(ls[i] ?? '').split('=')[0]}=${m.text}`;
          if (ls.length === 0) ls.push('errno=0');
        }
        const r = parseGetResponse(`${ls.join('\n')}\n\n`);
        if (r.ok) {
          expect(r.value.peers.length).toBeLessThanOrEqual(ls.length);
        } else {
          expect(CODES).toContain(r.error.code);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseSetResponse', () => {
  it('accepts errno=0 only', () => {
    expect(parseSetResponse('errno=0\n\n').ok).toBe(true);
    const r = parseSetResponse('errno=-22\n\n');
    expect(!r.ok && r.error.errno).toBe(-22);
    expect(parseSetResponse('listen_port=1\nerrno=0\n\n').ok).toBe(false);
  });
});

describe('encodeSetRequest', () => {
  const diff: WgConfigDiff = {
    replacePeers: true,
    privateKey: keyToBase64(priv),
    listenPort: 51820,
    fwmark: 0,
    peers: [
      { kind: 'remove', publicKey: keyToBase64(pubB) },
      {
        kind: 'add',
        publicKey: keyToBase64(pubA),
        endpoint: '10.99.0.2:51820',
        allowedIps: ['100.64.0.2/32'],
        persistentKeepalive: 25,
      },
      { kind: 'update', publicKey: keyToBase64(pubB), allowedIps: [], persistentKeepalive: 0 },
    ],
  };

  it('writes device keys first, then peers, with update_only right after public_key', () => {
    const r = encodeSetRequest(diff);
    expect(r.ok && r.value).toBe(
      [
        'set=1',
        `private_key=${keyToHex(priv)}`,
        'listen_port=51820',
        'fwmark=0',
        'replace_peers=true',
        `public_key=${hexB}`,
        'remove=true',
        `public_key=${hexA}`,
        'endpoint=10.99.0.2:51820',
        'replace_allowed_ips=true',
        'allowed_ip=100.64.0.2/32',
        'persistent_keepalive_interval=25',
        `public_key=${hexB}`,
        'update_only=true',
        'replace_allowed_ips=true',
        'persistent_keepalive_interval=0',
        '',
        '',
      ].join('\n'),
    );
  });

  it('rejects bad keys and values that would inject protocol lines', () => {
    expect(encodeSetRequest({ replacePeers: false, privateKey: 'bad', peers: [] }).ok).toBe(false);
    const injected = encodeSetRequest({
      replacePeers: false,
      peers: [{ kind: 'update', publicKey: keyToBase64(pubA), endpoint: '1.2.3.4:5\nremove=true' }],
    });
    expect(injected.ok).toBe(false);
  });

  it('round-trips through the device model and a get response', () => {
    const req = encodeSetRequest({ ...diff, peers: diff.peers.filter((p) => p.kind === 'add') });
    if (!req.ok) throw new Error(req.error.message);
    const state = applySetRequest(emptyDeviceState(), req.value);
    if (!state.ok) throw new Error(state.error.message);
    const back = parseGetResponse(encodeGetResponse(state.value));
    expect(back.ok && back.value).toEqual(state.value);
    expect(back.ok && back.value.peers[0]?.allowedIps).toEqual(['100.64.0.2/32']);
  });
});

describe('get response encoder/parser round trip', () => {
  const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => keyToBase64(b));
  const peerArb = fc.record({
    publicKey: keyArb,
    endpoint: fc.constantFrom(null, '10.0.0.1:1', '[fd00::1]:65535'),
    allowedIps: fc.uniqueArray(fc.constantFrom('10.0.0.0/8', '100.64.0.9/32', '::/0', 'fd7a::/48')),
    persistentKeepalive: fc.integer({ min: 0, max: 0xffff }),
    lastHandshake: fc.option(
      fc.integer({ min: 1, max: 4_000_000_000_000 }).map((ms) => new Date(ms)),
      { nil: null },
    ),
    rxBytes: fc.nat(),
    txBytes: fc.nat(),
  });
  const stateArb: fc.Arbitrary<UapiDeviceState> = fc.record({
    privateKey: fc.option(keyArb, { nil: null }),
    listenPort: fc.integer({ min: 0, max: 0xffff }),
    fwmark: fc.integer({ min: 0, max: 0xffff_ffff }),
    peers: fc.uniqueArray(peerArb, { selector: (p) => p.publicKey, maxLength: 5 }),
  });

  it('parse(encode(state)) = state', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        const r = parseGetResponse(encodeGetResponse(state));
        if (!r.ok) throw new Error(r.error.message);
        expect(r.value).toEqual(state);
      }),
      { numRuns: 300 },
    );
  });
});

// --- The client over a real Unix socket, against a model-backed server ----------------------

describe('uapiGet / uapiSet over a Unix socket', () => {
  let dir: string;
  let server: Server;
  let state = emptyDeviceState(4242);
  /** How the server misbehaves for the next connection. */
  let mode: 'normal' | 'bytewise' | 'silent' | 'hangup' | 'flood' = 'normal';
  const socketPath = (): string => join(dir, 'wgtest.sock');

  function serve(sock: Socket): void {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const end = buf.indexOf('\n\n');
      if (end < 0) return;
      const request = buf.slice(0, end + 2);
      let answer: string;
      if (request === 'get=1\n\n') {
        answer = encodeGetResponse(state);
      } else {
        const r = applySetRequest(state, request);
        if (r.ok) state = r.value;
        answer = r.ok ? 'errno=0\n\n' : `errno=${r.error.errno ?? -22}\n\n`;
      }
      if (mode === 'silent') return;
      if (mode === 'hangup') {
        sock.end(answer.slice(0, 5));
        return;
      }
      if (mode === 'flood') {
        sock.write('x'.repeat(64 * 1024));
        return;
      }
      if (mode === 'bytewise') {
        let i = 0;
        const tick = (): void => {
          if (i >= answer.length || sock.destroyed) return;
          sock.write(answer[i++] ?? '', () => setImmediate(tick));
        };
        tick();
        return;
      }
      sock.write(answer);
    });
    sock.on('error', () => undefined);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trellis-uapi-'));
    server = createServer(serve);
    await new Promise<void>((r) => server.listen(socketPath(), r));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets and gets a config', async () => {
    mode = 'normal';
    const req = encodeSetRequest({
      replacePeers: true,
      privateKey: keyToBase64(priv),
      fwmark: 7,
      peers: [
        {
          kind: 'add',
          publicKey: keyToBase64(pubA),
          endpoint: null,
          allowedIps: ['100.64.0.2/32'],
          persistentKeepalive: 0,
        },
      ],
    });
    if (!req.ok) throw new Error(req.error.message);
    await uapiSet(socketPath(), req.value);
    const got = await uapiGet(socketPath());
    expect(got.listenPort).toBe(4242);
    expect(got.fwmark).toBe(7);
    expect(got.peers.map((p) => p.publicKey)).toEqual([keyToBase64(pubA)]);
  });

  it('reassembles a response that arrives one byte at a time', async () => {
    mode = 'bytewise';
    const got = await uapiGet(socketPath());
    expect(got.peers[0]?.allowedIps).toEqual(['100.64.0.2/32']);
  });

  it('turns a device errno into a uapi_error', async () => {
    mode = 'normal';
    await expect(uapiSet(socketPath(), 'set=1\nbogus_key=1\n\n')).rejects.toMatchObject({
      code: 'uapi_error',
      message: expect.stringContaining('errno=-22'),
    });
  });

  it('times out on a silent device, fails on a hang-up and on an endless response', async () => {
    mode = 'silent';
    await expect(uapiGet(socketPath(), { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'uapi_unreachable',
    });
    mode = 'hangup';
    await expect(uapiGet(socketPath())).rejects.toMatchObject({ code: 'uapi_error' });
    mode = 'flood';
    await expect(uapiGet(socketPath(), { maxResponseBytes: 1024 })).rejects.toMatchObject({
      code: 'uapi_error',
    });
  });

  it('reports a missing socket as uapi_unreachable', async () => {
    const e = await uapiGet(join(dir, 'missing.sock')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WgError);
    expect((e as WgError).code).toBe('uapi_unreachable');
  });
});
