import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helper/testing/wait.js';
import { createIpcClient, ipcSchema, type AppState } from '../../shared/schema/ipc.js';
import { createInMemoryIpc } from '../../shared/schema/ipc-derive.js';
import { AppCore } from './app-core.js';
import { createIpcHandlers } from './ipc-handlers.js';
import { memoryKeychain } from './keychain.js';
import { FakeControlAuth } from './testing/fake-control-auth.js';
import { FakeHelper } from './testing/fake-helper.js';
import { FakeShell } from './testing/fake-shell.js';

const cores: AppCore[] = [];
afterEach(() => {
  for (const c of cores.splice(0)) c.stop();
});

function setup() {
  const helper = new FakeHelper({ peers: 30 });
  const core = new AppCore({
    helper: () => helper.api(),
    socketPath: '/tmp/x.sock',
    keychain: memoryKeychain(),
    controlAuth: new FakeControlAuth(),
    loginWindow: { open: () => ({ close: () => undefined }) },
  });
  cores.push(core);
  const shell = new FakeShell();
  const { transport, notifier } = createInMemoryIpc(ipcSchema, createIpcHandlers(core, shell));
  core.store.subscribe((s) => notifier.state.changed(s));
  const client = createIpcClient(transport);
  return { core, helper, shell, client };
}

describe('IPC handlers on the core', () => {
  it('answers state.get and pushes state.changed as the helper reports', async () => {
    const { core, client } = setup();
    const seen: AppState[] = [];
    client.state.changed((s) => seen.push(s));
    core.start();
    await waitFor(() => seen.some((s) => s.connection.state === 'connected'), 'pushed state');
    const r = await client.state.get();
    expect(r.ok && r.value.peers).toHaveLength(30);
  });

  it('runs commands and validates requests before the core sees them', async () => {
    const { core, client, helper } = setup();
    core.start();
    await waitFor(() => core.store.getState().connection.state === 'connected', 'connected');
    expect((await client.exitNode.set({ type: 'auto' })).ok).toBe(true);
    expect((await client.routes.setAdvertised(['10.9.0.0/24'])).ok).toBe(true);
    const bad = await client.routes.setAdvertised(['10.9.0.1/24']);
    expect(!bad.ok && bad.error.code).toBe('bad_request');
    expect(!bad.ok && bad.error.message).toMatch(/did you mean 10\.9\.0\.0\/24/);
    const prefs = await client.settings.update({ blockIncoming: true });
    expect(prefs.ok && prefs.value.blockIncoming).toBe(true);
    expect(helper.calls).toEqual([
      'patchPrefs {"exitNode":{"type":"auto"}}',
      'patchPrefs {"advertiseRoutes":["10.9.0.0/24"]}',
      'patchPrefs {"blockIncoming":true}',
    ]);
    const info = await client.app.getInfo();
    expect(info.ok && info.value).toEqual({
      appVersion: '0.1.0',
      daemonVersion: '0.1.0',
      platform: 'web',
      ipcVersion: 1,
    });
  });

  it('opens only http(s) URLs and the admin console of the current control', async () => {
    const { core, client, shell } = setup();
    core.start();
    await waitFor(() => core.store.getState().prefs !== null, 'prefs');
    client.app.openExternal('https://docs.example.com/trellis');
    client.app.openExternal('file:///etc/passwd');
    client.app.openAdminConsole();
    client.app.copyText('100.64.0.2');
    expect(shell.log).toEqual([
      'open https://docs.example.com/trellis',
      'open https://control.example.com/admin',
      'copy 100.64.0.2',
    ]);
  });

  it('says the helper is unavailable instead of failing obscurely', async () => {
    const { core, client, helper } = setup();
    helper.unreachable = { code: 'daemon_not_running', message: 'nobody listening' };
    core.start();
    const r = await client.tunnel.connect();
    expect(!r.ok && r.error.code).toBe('helper_unavailable');
    const info = await client.app.getInfo();
    expect(info.ok && info.value.daemonVersion).toBeNull();
  });
});
