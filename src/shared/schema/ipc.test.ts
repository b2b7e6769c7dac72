import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { err, ok } from '../result.js';
import { mutated } from './fuzz.js';
import {
  AppState,
  HelperConnection,
  createIpcClient,
  ipcChannelKinds,
  ipcChannels,
  ipcSchema,
  type IpcHandlers,
  type IpcInvokeRequest,
  type IpcInvokeResponse,
  type IpcNotifyPayload,
  type IpcSchema,
} from './ipc.js';
import {
  createInMemoryIpc,
  ipcError,
  listChannels,
  type IpcRendererTransport,
} from './ipc-derive.js';
import type { ExitNodeSelector, PingResponse } from './localapi.js';
import { parseWith } from './parse.js';
import { SAMPLE_TIME, sampleAppState, samplePrefs } from './samples.js';

/** A main process double that records what it was asked. */
function fakeMain() {
  const calls: string[] = [];
  let state = sampleAppState();
  const handlers: IpcHandlers<IpcSchema> = {
    state: { get: async () => ok(state) },
    tunnel: {
      connect: async () => {
        calls.push('connect');
        state = { ...state, connection: { state: 'connecting' } };
        return ok(undefined);
      },
      disconnect: async () => err(ipcError('helper_unavailable', 'trellisd is not running')),
    },
    exitNode: {
      set: async (sel) => {
        calls.push(`exit:${JSON.stringify(sel)}`);
        return ok(undefined);
      },
      setAllowLan: async () => ok(undefined),
      suggest: async () => ok({ suggestion: null }),
    },
    routes: {
      setAcceptRoutes: async () => ok(undefined),
      setAdvertised: async (routes) => {
        calls.push(`routes:${routes.join(',')}`);
        return ok(undefined);
      },
      setAdvertiseExitNode: async () => ok(undefined),
    },
    settings: { update: async (patch) => ok({ ...samplePrefs(), ...patch }) },
    account: {
      login: async () => ok({ outcome: 'cancelled' }),
      cancelLogin: () => calls.push('cancelLogin'),
      logout: async () => {
        throw new Error('keychain locked');
      },
    },
    diagnostics: {
      netcheck: async () =>
        ok({
          udp: true,
          ipv4: true,
          ipv6: false,
          globalV4: '203.0.113.1:41641',
          globalV6: null,
          mappingVariesByDest: null,
          preferredRegion: 1,
          regionLatencies: { '1': 10 },
          portMapping: null,
          measuredAt: SAMPLE_TIME,
        }),
      // Deliberately wrong: a direct pong without an endpoint, to prove responses are validated.
      ping: async () =>
        ok({
          peerId: 'dev-1',
          peerName: 'peer-1',
          results: [{ outcome: 'pong', seq: 0, path: { type: 'direct' }, latencyMs: 1 }],
        } as unknown as PingResponse),
    },
    app: {
      getInfo: async () =>
        ok({ appVersion: '0.1.0', daemonVersion: '0.1.0', platform: 'linux', ipcVersion: 1 }),
      openExternal: (url) => calls.push(`open:${url}`),
      openAdminConsole: () => calls.push('admin'),
      copyText: (t) => calls.push(`copy:${t}`),
      quit: () => calls.push('quit'),
    },
  };
  return { handlers, calls };
}

describe('ipc schema', () => {
  it('derives one unique "area:name" channel per declaration', () => {
    const declared = Object.values(ipcSchema).reduce((n, g) => n + Object.keys(g).length, 0);
    expect(ipcChannels).toHaveLength(declared);
    expect(new Set(ipcChannels).size).toBe(declared);
    expect(ipcChannels).toContain('tunnel:connect');
    expect(ipcChannelKinds.get('state:changed')).toBe('notify');
    expect(ipcChannelKinds.get('app:quit')).toBe('send');
  });

  it('the preload channel table matches the schema it is checked against', () => {
    const derived = listChannels(ipcSchema).map((c) => [c.channel, c.descriptor.kind]);
    expect(derived).toEqual([...ipcChannelKinds.entries()]);
  });

  it('infers request and response types per channel', () => {
    expectTypeOf<IpcInvokeRequest<'exitNode', 'set'>>().toEqualTypeOf<ExitNodeSelector>();
    expectTypeOf<IpcInvokeResponse<'state', 'get'>>().toEqualTypeOf<AppState>();
    expectTypeOf<IpcNotifyPayload<'state', 'changed'>>().toEqualTypeOf<AppState>();
    expectTypeOf<IpcInvokeResponse<'tunnel', 'connect'>>().toEqualTypeOf<undefined>();
  });

  it('AppState covers every connection state', () => {
    const states = [
      { state: 'helper-unavailable', reason: 'not-running', hint: 'Start the trellisd service.' },
      { state: 'needs-login', loginUrl: null },
      { state: 'needs-approval' },
      { state: 'disconnected' },
      { state: 'connecting' },
      { state: 'connected', exitNode: { id: 'dev-2', name: 'peer-2' } },
      { state: 'error', message: 'boom' },
    ];
    for (const s of states) expect(HelperConnection.safeParse(s).success).toBe(true);
    expect(parseWith(AppState, sampleAppState())).toEqual({ ok: true, value: sampleAppState() });
    expect(
      HelperConnection.safeParse({ state: 'helper-unavailable', reason: 'not-running' }).success,
    ).toBe(false);
  });
});

describe('derived client over an in-memory transport', () => {
  it('invokes handlers and returns typed, validated results', async () => {
    const main = fakeMain();
    const { transport } = createInMemoryIpc(ipcSchema, main.handlers);
    const ipc = createIpcClient(transport);
    const state = await ipc.state.get();
    expect(state.ok && state.value.connection.state).toBe('connected');
    expect(await ipc.tunnel.connect()).toEqual({ ok: true, value: undefined });
    expect(await ipc.exitNode.set({ type: 'auto' })).toEqual({ ok: true, value: undefined });
    const prefs = await ipc.settings.update({ blockIncoming: true });
    expect(prefs.ok && prefs.value.blockIncoming).toBe(true);
    // The route is canonicalized on the way in.
    await ipc.routes.setAdvertised(['10.0.0.0/8', 'FD00::/8']);
    expect(main.calls).toEqual(['connect', 'exit:{"type":"auto"}', 'routes:10.0.0.0/8,fd00::/8']);
  });

  it('passes handler errors through and turns throws into internal errors', async () => {
    const { transport } = createInMemoryIpc(ipcSchema, fakeMain().handlers);
    const ipc = createIpcClient(transport);
    expect(await ipc.tunnel.disconnect()).toEqual({
      ok: false,
      error: { code: 'helper_unavailable', message: 'trellisd is not running' },
    });
    const out = await ipc.account.logout();
    expect(!out.ok && out.error.code).toBe('internal');
    expect(!out.ok && out.error.message).toContain('keychain locked');
  });

  it('rejects bad requests before they reach main, and invalid responses before the renderer', async () => {
    const main = fakeMain();
    const { transport } = createInMemoryIpc(ipcSchema, main.handlers);
    const ipc = createIpcClient(transport);
    const bad = await ipc.routes.setAdvertised(['10.0.0.1/8']);
    expect(!bad.ok && bad.error.code).toBe('bad_request');
    expect(main.calls).toEqual([]);
    // A renderer that bypasses the client still hits main's validation.
    const raw = await transport.invoke('routes:setAdvertised', ['nope']);
    expect(raw).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    const ping = await ipc.diagnostics.ping({ peer: 'peer-1' });
    expect(!ping.ok && ping.error.code).toBe('internal');
  });

  it('reports transport failures and garbage answers as typed errors', async () => {
    const broken: IpcRendererTransport = {
      invoke: async (channel) => {
        if (channel === 'state:get') throw new Error('window closed');
        return { surprise: true };
      },
      send: () => undefined,
      on: () => () => undefined,
    };
    const ipc = createIpcClient(broken);
    const a = await ipc.state.get();
    expect(!a.ok && a.error.code).toBe('transport');
    const b = await ipc.app.getInfo();
    expect(!b.ok && b.error.code).toBe('invalid_response');
  });

  it('delivers valid notifications, drops invalid ones, and unsubscribes', () => {
    const { transport, notifier } = createInMemoryIpc(ipcSchema, fakeMain().handlers);
    const dropped: string[] = [];
    const ipc = createIpcClient(transport, (channel) => dropped.push(channel));
    const seen: string[] = [];
    const off = ipc.state.changed((s) => seen.push(s.connection.state));
    ipc.app.navigate((v) => seen.push(`view:${v}`));
    notifier.state.changed({ ...sampleAppState(), connection: { state: 'disconnected' } });
    notifier.app.navigate('peers');
    off();
    notifier.state.changed(sampleAppState());
    expect(seen).toEqual(['disconnected', 'view:peers']);
    // A hostile or buggy emitter on the raw transport is filtered by the client.
    const raw: IpcRendererTransport = {
      ...transport,
      on: (_c, l) => (l({ connection: 'bogus' }), () => undefined),
    };
    createIpcClient(raw, (channel) => dropped.push(channel)).state.changed(() => seen.push('bad'));
    expect(dropped).toEqual(['state:changed']);
    expect(seen).toHaveLength(2);
  });

  it('routes send channels to main after validation', () => {
    const main = fakeMain();
    const { transport } = createInMemoryIpc(ipcSchema, main.handlers);
    const ipc = createIpcClient(transport);
    ipc.app.openExternal('https://control.example.com/admin');
    ipc.app.openExternal('javascript:alert(1)');
    ipc.account.cancelLogin();
    expect(main.calls).toEqual(['open:https://control.example.com/admin', 'cancelLogin']);
  });
});

describe('AppState parser never throws on mutated input', () => {
  it('mutations are accepted or rejected with a typed error', () => {
    fc.assert(
      fc.property(mutated([sampleAppState()]), (s) => {
        const r = parseWith(AppState, s);
        if (!r.ok) expect(r.error.code).toBe('invalid');
      }),
      { numRuns: 300 },
    );
  });
});
