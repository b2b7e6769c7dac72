import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PEERS } from './control.js';
import { mutated } from './fuzz.js';
import {
  BackendState,
  ExitNodeSelector,
  HelloResponse,
  LoginRequest,
  PingRequest,
  PingResponse,
  PrefsPatch,
  Status,
  WatchEvent,
  defaultLocalApiEndpoint,
  localApiEndpointError,
  localApiEndpoints,
  localApiErrorStatus,
  parseLocalApiErrorBody,
  parsePrefs,
  parseStatus,
  parseWatchEvent,
} from './localapi.js';
import { parseWith } from './parse.js';
import { SAMPLE_TIME, samplePeerStatus, samplePrefs, sampleStatus } from './samples.js';

const events = [
  { type: 'status', seq: 0, status: sampleStatus() },
  { type: 'prefs', seq: 1, prefs: samplePrefs() },
  {
    type: 'netmap-summary',
    seq: 2,
    summary: { peerCount: 2, onlineCount: 1, collectedAt: SAMPLE_TIME },
  },
  {
    type: 'notification',
    seq: 3,
    notification: {
      level: 'warning',
      title: 'Approval needed',
      body: 'An admin must approve this device.',
    },
  },
  { type: 'log', seq: 4, level: 'info', message: 'netcheck: udp ok', time: SAMPLE_TIME },
];

describe('localapi: valid messages parse', () => {
  it('status, prefs and every watch event', () => {
    expect(parseStatus(sampleStatus())).toEqual({ ok: true, value: sampleStatus() });
    expect(parsePrefs(samplePrefs()).ok).toBe(true);
    for (const e of events) expect(parseWatchEvent(e)).toEqual({ ok: true, value: e });
  });

  it('every backend state and exit node selector', () => {
    const states = [
      { state: 'needs-login', loginUrl: 'https://control.example.com/login/abc' },
      { state: 'needs-login', loginUrl: null },
      { state: 'needs-approval' },
      { state: 'stopped' },
      { state: 'starting' },
      { state: 'running' },
      { state: 'error', message: 'wireguard-go exited' },
    ];
    for (const s of states) expect(BackendState.safeParse(s).success).toBe(true);
    const selectors = [
      null,
      { type: 'auto' },
      { type: 'id', id: 'dev-2' },
      { type: 'name', name: 'peer-2' },
      { type: 'name', name: 'peer-2.acme.trellis' },
      { type: 'address', address: '100.64.0.3' },
    ];
    for (const s of selectors) expect(ExitNodeSelector.safeParse(s).success).toBe(true);
  });

  it('requests fill defaults, handshake and ping results parse', () => {
    expect(PingRequest.parse({ peer: 'peer-1' })).toEqual({
      peer: 'peer-1',
      count: 4,
      timeoutMs: 2000,
    });
    expect(
      LoginRequest.safeParse({ method: 'session', sessionToken: 'sess_0123456789abcdef' }).success,
    ).toBe(true);
    expect(PrefsPatch.parse({ exitNodeAllowLAN: true })).toEqual({ exitNodeAllowLAN: true });
    const hello = {
      daemonVersion: '0.1.0',
      protocolVersion: 1,
      minProtocolVersion: 1,
      compatible: true,
    };
    expect(HelloResponse.safeParse(hello).success).toBe(true);
    const ping = {
      peerId: 'dev-1',
      peerName: 'peer-1',
      results: [
        { outcome: 'pong', seq: 0, path: { type: 'relay', region: 1 }, latencyMs: 40 },
        {
          outcome: 'pong',
          seq: 1,
          path: { type: 'direct', endpoint: '[2001:db8::2]:41641' },
          latencyMs: 9.5,
        },
        { outcome: 'timeout', seq: 2 },
      ],
    };
    expect(parseWith(PingResponse, ping).ok).toBe(true);
  });

  it('endpoints are unique and errors map to HTTP statuses', () => {
    const keys = Object.values(localApiEndpoints).map((e) => `${e.method} ${e.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(localApiErrorStatus.forbidden).toBe(403);
    expect(
      parseLocalApiErrorBody({ error: { code: 'not_logged_in', message: 'run trellis login' } }).ok,
    ).toBe(true);
  });
});

describe('localapi: bad input gives typed errors', () => {
  it.each([
    ['ambiguous bare-string exit node', { ...samplePrefs(), exitNode: 'auto' }],
    ['control URL that is not http(s)', { ...samplePrefs(), controlUrl: 'ftp://control' }],
    ['host-bit route', { ...samplePrefs(), advertiseRoutes: ['10.0.0.1/8'] }],
  ])('prefs: %s', (_n, prefs) => {
    const r = parsePrefs(prefs);
    expect(!r.ok && r.error.code).toBe('invalid');
  });

  it('a direct path needs an endpoint, a relay path a region', () => {
    const bad = {
      ...sampleStatus(),
      peers: [{ ...samplePeerStatus(1), path: { type: 'direct' } }],
    };
    const r = parseStatus(bad);
    expect(!r.ok && r.error.issues[0]?.path).toBe('peers[0].path.endpoint');
  });

  it('unknown watch event types are reported as such', () => {
    const r = parseWatchEvent({ type: 'sparkles', seq: 9 });
    expect(!r.ok && r.error.code).toBe('unknown_type');
  });

  it('bounds peers, health warnings and ping counts', () => {
    expect(
      Status.safeParse({
        ...sampleStatus(0),
        peers: new Array(MAX_PEERS + 1).fill(samplePeerStatus(1)),
      }).success,
    ).toBe(false);
    const warning = { code: 'x', severity: 'info', message: 'm', since: null };
    expect(
      Status.safeParse({ ...sampleStatus(), health: new Array(65).fill(warning) }).success,
    ).toBe(false);
    expect(PingRequest.safeParse({ peer: 'p', count: 101 }).success).toBe(false);
    expect(PingRequest.safeParse({ peer: 'p'.repeat(254) }).success).toBe(false);
    const longLog = {
      type: 'log',
      seq: 1,
      level: 'info',
      message: 'x'.repeat(5000),
      time: SAMPLE_TIME,
    };
    expect(WatchEvent.safeParse(longLog).success).toBe(false);
  });
});

describe('localapi: parsers never throw on mutated input', () => {
  it('watch events', () => {
    fc.assert(
      fc.property(mutated(events), (e) => {
        const r = parseWatchEvent(e);
        if (!r.ok) expect(['invalid', 'unknown_type']).toContain(r.error.code);
      }),
      { numRuns: 500 },
    );
  });

  it('prefs and prefs patches', () => {
    fc.assert(
      fc.property(mutated([samplePrefs(), { exitNode: { type: 'auto' } }]), (p) => {
        expect(() => parsePrefs(p)).not.toThrow();
        expect(() => parseWith(PrefsPatch, p)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });
});

describe('localapi: the endpoint per platform', () => {
  it('is a socket under /run, under /var/run on macOS, and a named pipe on Windows', () => {
    expect(defaultLocalApiEndpoint('linux')).toBe('/run/trellis/trellisd.sock');
    expect(defaultLocalApiEndpoint('openbsd')).toBe('/run/trellis/trellisd.sock');
    expect(defaultLocalApiEndpoint('darwin')).toBe('/var/run/trellis/trellisd.sock');
    expect(defaultLocalApiEndpoint('win32')).toBe(
      '\\\\.\\pipe\\ProtectedPrefix\\Administrators\\Trellis\\trellisd',
    );
    for (const p of ['linux', 'darwin', 'win32'])
      expect(localApiEndpointError(defaultLocalApiEndpoint(p), p), p).toBeNull();
  });

  it('accepts only a pipe on Windows and only an absolute path elsewhere', () => {
    expect(localApiEndpointError('\\\\.\\pipe\\trellisd', 'linux')).toMatch(/absolute path/);
    expect(localApiEndpointError('/run/a\0b', 'linux')).toMatch(/absolute path/);
    expect(localApiEndpointError('/run/trellis/trellisd.sock', 'win32')).toMatch(/named pipe/);
    expect(localApiEndpointError('\\\\?\\pipe\\trellisd', 'win32')).toMatch(/named pipe/);
    expect(localApiEndpointError('\\\\.\\pipe\\a\\b.c_d-e', 'win32')).toBeNull();
    // `\\.\pipe\` is 9 characters of the 256 Windows allows.
    expect(localApiEndpointError(`\\\\.\\pipe\\${'x'.repeat(247)}`, 'win32')).toBeNull();
    expect(localApiEndpointError(`\\\\.\\pipe\\${'x'.repeat(248)}`, 'win32')).toMatch(/256/);
    for (const bad of ['', 'a b', 'a\\', '\\a', 'a\\\\b', 'a/b', 'ä'])
      expect(localApiEndpointError(`\\\\.\\pipe\\${bad}`, 'win32'), bad).toMatch(/named pipe/);
  });
});
