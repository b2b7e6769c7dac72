/** Carries out what a tray item (or a clicked notification) asks for. */
import type { AppCore } from './app-core.js';
import { adminConsoleUrl, type ShellDelegate } from './shell.js';
import type { TrayAction } from './tray-model.js';

export async function runTrayAction(
  a: TrayAction,
  core: Pick<AppCore, 'commands' | 'retryHelper' | 'store'>,
  shell: ShellDelegate,
): Promise<void> {
  const report = (r: { ok: boolean; error?: { message: string } }) => {
    if (!r.ok && r.error) shell.reportError(r.error.message);
  };
  switch (a.type) {
    case 'copy':
      return shell.copyText(a.text);
    case 'connect':
      return report(await core.commands.connect());
    case 'disconnect':
      return report(await core.commands.disconnect());
    case 'set-exit-node':
      return report(await core.commands.setExitNode(a.selector));
    case 'set-prefs':
      return report(await core.commands.updatePrefs(a.patch));
    case 'open-window':
      return shell.showWindow(a.view);
    case 'sign-in': {
      // The window shows the sign-in view with its progress; the SSO window opens on top.
      shell.showWindow('sign-in');
      const r = await core.commands.signIn();
      if (!r.ok) return report(r);
      if (r.value.outcome === 'failed') shell.reportError(r.value.message);
      return;
    }
    case 'sign-out':
      return report(await core.commands.signOut());
    case 'retry-helper':
      return core.retryHelper();
    case 'open-admin-console': {
      const s = core.store.getState();
      const url = s.account?.controlUrl ?? s.prefs?.controlUrl;
      if (url) shell.openExternal(adminConsoleUrl(url));
      return;
    }
    case 'about':
      return shell.showAbout();
    case 'quit':
      return shell.quit();
  }
}
