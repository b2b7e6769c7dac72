/** Home: where things stand, the connect switch, and this device's name and addresses. */
import type { AppState } from '../../../shared/schema/ipc.js';
import { CopyButton, Section, Switch } from '../components/controls.js';
import { connectionTitle } from '../format.js';
import { useUi } from '../store.js';

function StatusCard({ app }: { readonly app: AppState }) {
  const ipc = useUi((s) => s.ipc);
  const run = useUi((s) => s.run);
  const c = app.connection;
  const up = c.state === 'connected' || c.state === 'connecting';
  const canToggle =
    c.state === 'connected' ||
    c.state === 'connecting' ||
    c.state === 'disconnected' ||
    c.state === 'error';
  return (
    <Section title="Status">
      <p
        className={`state state-${c.state}`}
        role="status"
        aria-live="polite"
        data-testid="connection-state"
      >
        {connectionTitle(c)}
      </p>
      {c.state === 'error' && <p className="error-text">{c.message}</p>}
      {c.state === 'needs-approval' && (
        <p>An administrator of your network has to approve this device before it can connect.</p>
      )}
      {canToggle && ipc && (
        <Switch
          label="Connected"
          checked={up}
          onChange={(on) =>
            void run(on ? 'Connect' : 'Disconnect', () =>
              on ? ipc.client.tunnel.connect() : ipc.client.tunnel.disconnect(),
            )
          }
        />
      )}
    </Section>
  );
}

function ThisDevice({ app }: { readonly app: AppState }) {
  const self = app.self;
  if (!self) return null;
  return (
    <Section title="This device">
      <dl className="facts">
        <dt>Name</dt>
        <dd>
          <span data-testid="self-name">{self.name}</span>{' '}
          <CopyButton text={self.fqdn} what="device name" />
        </dd>
        <dt>DNS name</dt>
        <dd className="mono">{self.fqdn}</dd>
        <dt>IPv4</dt>
        <dd>
          <span className="mono" data-testid="self-ipv4">
            {self.addresses.ipv4}
          </span>{' '}
          <CopyButton text={self.addresses.ipv4} what="IPv4 address" />
        </dd>
        <dt>IPv6</dt>
        <dd>
          <span className="mono">{self.addresses.ipv6}</span>{' '}
          <CopyButton text={self.addresses.ipv6} what="IPv6 address" />
        </dd>
        {app.account && (
          <>
            <dt>Account</dt>
            <dd>{app.account.user.email ?? app.account.user.name}</dd>
            <dt>Network</dt>
            <dd>{app.account.network.name}</dd>
          </>
        )}
        {self.keyExpiry && (
          <>
            <dt>Key expires</dt>
            <dd>{new Date(self.keyExpiry).toLocaleDateString()}</dd>
          </>
        )}
      </dl>
    </Section>
  );
}

function Health({ app }: { readonly app: AppState }) {
  if (app.health.length === 0) return null;
  return (
    <Section title="Health">
      <ul className="plain">
        {app.health.map((h) => (
          <li key={h.code} className={`health health-${h.severity}`}>
            <strong>
              {h.severity === 'error' ? 'Problem' : h.severity === 'warning' ? 'Warning' : 'Note'}:
            </strong>{' '}
            {h.message}
          </li>
        ))}
      </ul>
    </Section>
  );
}

export function Home({ app }: { readonly app: AppState }) {
  const online = app.peers.filter((p) => p.online).length;
  return (
    <>
      <StatusCard app={app} />
      <ThisDevice app={app} />
      {app.self && (
        <Section title="Network">
          <p>
            {app.peers.length} {app.peers.length === 1 ? 'peer' : 'peers'}, {online} online.
          </p>
        </Section>
      )}
      <Health app={app} />
    </>
  );
}
