/** Exit node picker: None, Recommended (lowest latency), a searchable list, allow LAN access. */
import { useState } from 'react';
import type { AppState, ExitNodeOption } from '../../../shared/schema/ipc.js';
import type { ExitNodeSelector } from '../../../shared/schema/localapi.js';
import { Section, Switch } from '../components/controls.js';
import { latency, OS_NAMES } from '../format.js';
import { useUi } from '../store.js';

type Choice = 'none' | 'auto' | { readonly id: string };

function currentChoice(app: AppState): Choice {
  const sel = app.prefs?.exitNode ?? null;
  if (sel === null) return 'none';
  if (sel.type === 'auto') return 'auto';
  if (sel.type === 'id') return { id: sel.id };
  const active = app.exitNodes.find((o) => o.active);
  return active ? { id: active.id } : 'none';
}

export function ExitNodes({ app }: { readonly app: AppState }) {
  const ipc = useUi((s) => s.ipc);
  const run = useUi((s) => s.run);
  const [query, setQuery] = useState('');
  // The pick shows at once; the helper's answer (or a failure) then settles it.
  const [pending, setPending] = useState<Choice | null>(null);
  const choice = pending ?? currentChoice(app);
  const recommended = app.exitNodes.find((o) => o.recommended);
  const set = (selector: ExitNodeSelector) => {
    if (!ipc) return;
    setPending(
      selector === null
        ? 'none'
        : selector.type === 'auto'
          ? 'auto'
          : selector.type === 'id'
            ? { id: selector.id }
            : null,
    );
    void run('Choosing the exit node', () => ipc.client.exitNode.set(selector)).finally(() =>
      setPending(null),
    );
  };
  const q = query.trim().toLowerCase();
  const listed = app.exitNodes.filter((o) => q === '' || o.name.includes(q) || o.fqdn.includes(q));
  const radio = (
    label: string,
    checked: boolean,
    onPick: () => void,
    detail?: string,
    disabled = false,
  ) => (
    <label className={`radio-row${disabled ? ' disabled' : ''}`}>
      <input
        type="radio"
        name="exit-node"
        checked={checked}
        onChange={onPick}
        disabled={disabled}
      />
      <span>{label}</span>
      {detail && <span className="muted small">{detail}</span>}
    </label>
  );
  const row = (o: ExitNodeOption) =>
    radio(
      o.name,
      typeof choice === 'object' && choice.id === o.id,
      () => set({ type: 'id', id: o.id }),
      `${o.online ? 'online' : 'offline'} · ${latency(o.latencyMs)} · ${OS_NAMES[o.os] ?? o.os}${o.active ? ' · in use' : ''}`,
      !o.online && !(typeof choice === 'object' && choice.id === o.id),
    );
  return (
    <>
      <Section title="Exit node">
        <p className="muted small">
          An exit node carries all your internet traffic, as if you were on its network.
        </p>
        <div role="radiogroup" aria-label="Exit node" className="radios">
          {radio(
            'None',
            choice === 'none',
            () => set(null),
            'Use this device’s own internet connection',
          )}
          {radio(
            'Recommended',
            choice === 'auto',
            () => set({ type: 'auto' }),
            recommended
              ? `Lowest latency: ${recommended.name} (${latency(recommended.latencyMs)})`
              : 'No exit node online',
            recommended === undefined && choice !== 'auto',
          )}
          {app.exitNodes.length > 6 && (
            <input
              type="search"
              aria-label="Search exit nodes"
              placeholder="Search exit nodes"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
            />
          )}
          {listed.map((o) => (
            <div key={o.id}>{row(o)}</div>
          ))}
          {app.exitNodes.length === 0 && (
            <p className="muted">No device offers itself as an exit node to you.</p>
          )}
        </div>
      </Section>
      <Section title="Local network">
        <Switch
          label="Allow local network access"
          description="While using an exit node, keep printers and other devices on your LAN reachable directly."
          checked={app.prefs?.exitNodeAllowLAN ?? false}
          disabled={!ipc || app.prefs === null}
          onChange={(v) => {
            if (ipc) void run('Changing LAN access', () => ipc.client.exitNode.setAllowLan(v));
          }}
        />
      </Section>
    </>
  );
}
