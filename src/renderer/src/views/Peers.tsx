/**
 * Peers: a virtualized, searchable list (smooth with thousands), each row with online state,
 * path (direct or relayed), latency and OS; a detail panel for the selected peer.
 */
import { useDeferredValue, useMemo, useState } from 'react';
import type { AppState } from '../../../shared/schema/ipc.js';
import type { PeerStatus } from '../../../shared/schema/localapi.js';
import { CopyButton } from '../components/controls.js';
import { VirtualList } from '../components/VirtualList.js';
import { bytes, latency, OS_NAMES, ownerLabel, pathLabel } from '../format.js';

/** Row height in px; must match .peer-row in styles.css. */
const ROW_HEIGHT = 56;

const byOnlineThenName = (a: PeerStatus, b: PeerStatus): number =>
  Number(b.online) - Number(a.online) || a.name.localeCompare(b.name, undefined, { numeric: true });

function matches(p: PeerStatus, q: string): boolean {
  return (
    p.name.includes(q) ||
    p.fqdn.includes(q) ||
    p.addresses.ipv4.includes(q) ||
    p.addresses.ipv6.includes(q) ||
    (OS_NAMES[p.os] ?? p.os).toLowerCase().includes(q) ||
    ownerLabel(p).toLowerCase().includes(q)
  );
}

function PeerRow(props: {
  readonly peer: PeerStatus;
  readonly selected: boolean;
  readonly onSelect: () => void;
}) {
  const p = props.peer;
  return (
    <div className={`peer-row${props.selected ? ' selected' : ''}`}>
      <button
        type="button"
        className="peer-main"
        aria-pressed={props.selected}
        onClick={props.onSelect}
      >
        <span className={`dot ${p.online ? 'on' : 'off'}`} aria-hidden="true" />
        <span className="peer-name">{p.name}</span>
        <span className="sr-only">{p.online ? ', online' : ', offline'}</span>
        <span className="peer-meta">
          <span className="mono">{p.addresses.ipv4}</span>
          <span className={`path path-${p.path.type}`}>{pathLabel(p.path)}</span>
          <span>{latency(p.latencyMs)}</span>
          <span>{OS_NAMES[p.os] ?? p.os}</span>
        </span>
      </button>
      <CopyButton text={p.addresses.ipv4} what={`IP of ${p.name}`}>
        IP
      </CopyButton>
      <CopyButton text={p.fqdn} what={`name of ${p.name}`}>
        Name
      </CopyButton>
    </div>
  );
}

function PeerDetail({
  peer,
  onClose,
}: {
  readonly peer: PeerStatus;
  readonly onClose: () => void;
}) {
  return (
    <aside className="card detail" role="region" aria-label={`Details of ${peer.name}`}>
      <div className="card-head">
        <h2>{peer.name}</h2>
        <button type="button" onClick={onClose} aria-label="Close details">
          Close
        </button>
      </div>
      <dl className="facts">
        <dt>Status</dt>
        <dd>{peer.online ? 'Online' : 'Offline'}</dd>
        <dt>DNS name</dt>
        <dd className="mono">
          {peer.fqdn} <CopyButton text={peer.fqdn} what="DNS name" />
        </dd>
        <dt>IPv4</dt>
        <dd className="mono">
          {peer.addresses.ipv4} <CopyButton text={peer.addresses.ipv4} what="IPv4 address" />
        </dd>
        <dt>IPv6</dt>
        <dd className="mono">
          {peer.addresses.ipv6} <CopyButton text={peer.addresses.ipv6} what="IPv6 address" />
        </dd>
        <dt>Connection</dt>
        <dd>
          {pathLabel(peer.path)}
          {peer.path.type === 'direct' && <span className="mono"> via {peer.path.endpoint}</span>}
          {peer.path.type === 'direct' && peer.path.fastPath && (
            <span> (fast path: WireGuard carries it without the helper)</span>
          )}
        </dd>
        <dt>Latency</dt>
        <dd>{latency(peer.latencyMs)}</dd>
        <dt>OS</dt>
        <dd>{OS_NAMES[peer.os] ?? peer.os}</dd>
        <dt>Owner</dt>
        <dd>{ownerLabel(peer)}</dd>
        <dt>Last seen</dt>
        <dd>
          {peer.online ? 'now' : peer.lastSeen ? new Date(peer.lastSeen).toLocaleString() : 'never'}
        </dd>
        <dt>Traffic</dt>
        <dd>
          ↓ {bytes(peer.rxBytes)} ↑ {bytes(peer.txBytes)}
        </dd>
        {peer.exitNodeOption && (
          <>
            <dt>Exit node</dt>
            <dd>{peer.exitNode ? 'in use' : 'offered'}</dd>
          </>
        )}
        {peer.routes.length > 0 && (
          <>
            <dt>Routes</dt>
            <dd className="mono">{peer.routes.join(', ')}</dd>
          </>
        )}
      </dl>
    </aside>
  );
}

export function Peers({ app }: { readonly app: AppState }) {
  const [query, setQuery] = useState('');
  const [onlineOnly, setOnlineOnly] = useState(false);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const q = useDeferredValue(query.trim().toLowerCase());
  const sorted = useMemo(() => [...app.peers].sort(byOnlineThenName), [app.peers]);
  const shown = useMemo(
    () => sorted.filter((p) => (!onlineOnly || p.online) && (q === '' || matches(p, q))),
    [sorted, q, onlineOnly],
  );
  const selected = selectedId ? app.peers.find((p) => p.id === selectedId) : undefined;
  const online = app.peers.filter((p) => p.online).length;
  return (
    <div className="peers-view">
      <section aria-labelledby="h-peers" className="card grow">
        <div className="card-head">
          <h2 id="h-peers">Peers</h2>
          <span className="muted" data-testid="peer-count">
            {shown.length === app.peers.length
              ? `${app.peers.length} ${app.peers.length === 1 ? 'peer' : 'peers'}, ${online} online`
              : `${shown.length} of ${app.peers.length} peers`}
          </span>
        </div>
        <div className="toolbar">
          <input
            type="search"
            aria-label="Search peers"
            placeholder="Search by name, IP, OS or owner"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
          />
          <label className="check">
            <input
              type="checkbox"
              checked={onlineOnly}
              onChange={(e) => setOnlineOnly(e.target.checked)}
            />{' '}
            Online only
          </label>
        </div>
        {shown.length === 0 ? (
          <p className="muted">{app.peers.length === 0 ? 'No peers yet.' : 'No peer matches.'}</p>
        ) : (
          <VirtualList
            items={shown}
            rowHeight={ROW_HEIGHT}
            label="Peers"
            itemKey={(p) => p.id}
            renderRow={(p) => (
              <PeerRow
                peer={p}
                selected={p.id === selectedId}
                onSelect={() => setSelectedId(p.id === selectedId ? null : p.id)}
              />
            )}
          />
        )}
      </section>
      {selected && <PeerDetail peer={selected} onClose={() => setSelectedId(null)} />}
    </div>
  );
}
