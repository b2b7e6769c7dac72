/** Settings: DNS, incoming connections, device name, theme, account and versions. */
import { useEffect, useState } from 'react';
import type { AppInfo, AppState } from '../../../shared/schema/ipc.js';
import { Section, Switch } from '../components/controls.js';
import { applyTheme, savedTheme, type Theme } from '../../../web-ui/theme.js';
import { useUi } from '../store.js';

export function Settings({ app }: { readonly app: AppState }) {
  const ipc = useUi((s) => s.ipc);
  const run = useUi((s) => s.run);
  const say = useUi((s) => s.say);
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [theme, setTheme] = useState<Theme>(savedTheme());
  const [hostname, setHostname] = useState(app.prefs?.hostname ?? '');
  useEffect(() => {
    if (!ipc) return;
    void ipc.client.app.getInfo().then((r) => r.ok && setInfo(r.value));
  }, [ipc]);
  const prefs = app.prefs;
  const update = (
    label: string,
    patch: Parameters<NonNullable<typeof ipc>['client']['settings']['update']>[0],
  ) => {
    if (ipc) void run(label, () => ipc.client.settings.update(patch));
  };
  return (
    <>
      <Section title="Network settings">
        <Switch
          label="Use Trellis DNS"
          description="Resolve device names (MagicDNS) and use your network’s DNS settings."
          checked={prefs?.acceptDNS ?? false}
          disabled={!prefs}
          onChange={(v) => update('Changing DNS', { acceptDNS: v })}
        />
        <Switch
          label="Block incoming connections"
          description="Peers cannot open connections to this device, whatever the policy allows."
          checked={prefs?.blockIncoming ?? false}
          disabled={!prefs}
          onChange={(v) => update('Changing incoming connections', { blockIncoming: v })}
        />
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            update('Renaming the device', {
              hostname: hostname.trim() === '' ? null : hostname.trim(),
            });
          }}
        >
          <label htmlFor="hostname">Device name</label>
          <input
            id="hostname"
            placeholder="the computer’s hostname"
            value={hostname}
            maxLength={63}
            onChange={(e) => setHostname(e.target.value)}
          />
          <button type="submit" disabled={!prefs}>
            Save
          </button>
        </form>
        <p className="muted small">
          Control server: <span className="mono">{prefs?.controlUrl ?? 'unknown'}</span>
        </p>
      </Section>
      <Section title="Appearance">
        <div role="radiogroup" aria-label="Theme" className="radios horizontal">
          {(['system', 'light', 'dark'] as const).map((t) => (
            <label key={t} className="radio-row">
              <input
                type="radio"
                name="theme"
                checked={theme === t}
                onChange={() => {
                  setTheme(t);
                  applyTheme(t);
                }}
              />
              {t === 'system' ? 'Like the system' : t === 'light' ? 'Light' : 'Dark'}
            </label>
          ))}
        </div>
      </Section>
      <Section title="Account">
        {app.account ? (
          <p>
            Signed in as <strong>{app.account.user.email ?? app.account.user.name}</strong> to{' '}
            {app.account.network.name}.
          </p>
        ) : (
          <p className="muted">Not signed in.</p>
        )}
        <div className="buttons">
          {app.self && ipc && (
            <button
              type="button"
              onClick={async () => {
                const r = await run('Signing out', () => ipc.client.account.logout());
                if (r !== null) say('info', 'Signed out');
              }}
            >
              Sign out
            </button>
          )}
          {ipc && prefs && (
            <button type="button" onClick={() => ipc.client.app.openAdminConsole()}>
              Admin console
            </button>
          )}
        </div>
      </Section>
      <Section title="About">
        <dl className="facts">
          <dt>App</dt>
          <dd>{info ? `Trellis ${info.appVersion} (${info.platform})` : '…'}</dd>
          <dt>Helper</dt>
          <dd>{info ? (info.daemonVersion ?? 'not available') : '…'}</dd>
        </dl>
      </Section>
    </>
  );
}
