import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helper/testing/wait.js';
import { AppCore } from './app-core.js';
import { memoryKeychain } from './keychain.js';
import { FakeControlAuth } from './testing/fake-control-auth.js';
import { FakeHelper } from './testing/fake-helper.js';
import { FakeShell } from './testing/fake-shell.js';
import { runTrayAction } from './tray-actions.js';
import { trayModel, type TrayMenuItem } from './tray-model.js';

const cores: AppCore[] = [];
afterEach(() => {
  for (const c of cores.splice(0)) c.stop();
});

/** The first item whose label starts with `label`, searching submenus depth-first. */
function find(items: readonly TrayMenuItem[], label: string): TrayMenuItem | null {
  for (const i of items) {
    if (i.kind === 'submenu') {
      const inner = find(i.items, label);
      if (inner) return inner;
    } else if ('label' in i && i.label.startsWith(label)) return i;
  }
  return null;
}

describe('tray actions', () => {
  it('carry out what the rendered menu offers', async () => {
    const helper = new FakeHelper({ peers: 600 });
    const core = new AppCore({
      helper: () => helper.api(),
      socketPath: '/tmp/x.sock',
      keychain: memoryKeychain(),
      controlAuth: new FakeControlAuth(),
      loginWindow: { open: () => ({ close: () => undefined }) },
    });
    cores.push(core);
    const shell = new FakeShell();
    core.start();
    await waitFor(() => core.store.getState().connection.state === 'connected', 'connected');
    const click = async (label: string) => {
      const item = find(trayModel(core.store.getState()).menu, label);
      if (!item || !('action' in item)) throw new Error(`${label} is not clickable`);
      await runTrayAction(item.action, core, shell);
    };
    await click('This device');
    await click('Recommended');
    await click('Use subnet routes');
    await click('Open Trellis');
    await click('Admin console');
    await click('Disconnect');
    await click('Quit');
    expect(shell.log).toEqual([
      'copy 100.64.0.1',
      'show home',
      'open https://control.example.com/admin',
      'quit',
    ]);
    expect(helper.calls).toEqual([
      'patchPrefs {"exitNode":{"type":"auto"}}',
      'patchPrefs {"acceptRoutes":false}',
      'down',
    ]);
  });

  it('reports a failed command to the user', async () => {
    const helper = new FakeHelper();
    const core = new AppCore({
      helper: () => helper.api(),
      socketPath: '/tmp/x.sock',
      keychain: memoryKeychain(),
      controlAuth: new FakeControlAuth(),
      loginWindow: { open: () => ({ close: () => undefined }) },
    });
    cores.push(core);
    const shell = new FakeShell();
    helper.unreachable = { code: 'daemon_not_running', message: 'trellisd is not running' };
    await runTrayAction({ type: 'connect' }, core, shell);
    expect(shell.log).toEqual(['error trellisd is not running']);
  });
});
