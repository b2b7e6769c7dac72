/** Subnet routes: what peers offer, accept routes, and this device's own advertisement. */
import { useState } from 'react';
import type { AppState } from '../../../shared/schema/ipc.js';
import { Cidr } from '../../../shared/schema/common.js';
import { Section, Switch } from '../components/controls.js';
import { useUi } from '../store.js';

export function Routes({ app }: { readonly app: AppState }) {
  const ipc = useUi((s) => s.ipc);
  const run = useUi((s) => s.run);
  const [draft, setDraft] = useState('');
  const [draftError, setDraftError] = useState<string | null>(null);
  const r = app.routes;
  const approved = new Set(r.approved);
  const advertise = (routes: string[]) => {
    if (ipc) void run('Changing advertised routes', () => ipc.client.routes.setAdvertised(routes));
  };
  const add = () => {
    const parsed = Cidr.safeParse(draft.trim());
    if (!parsed.success) {
      setDraftError(parsed.error.issues[0]?.message ?? 'not a prefix');
      return;
    }
    setDraftError(null);
    if (!r.advertised.includes(parsed.data)) advertise([...r.advertised, parsed.data]);
    setDraft('');
  };
  return (
    <>
      <Section title="Routes from peers">
        <Switch
          label="Use subnet routes"
          description="Reach networks behind other devices (subnet routers) through Trellis."
          checked={r.acceptRoutes}
          disabled={!ipc || app.prefs === null}
          onChange={(v) => {
            if (ipc) void run('Changing accept routes', () => ipc.client.routes.setAcceptRoutes(v));
          }}
        />
        {r.offered.length === 0 ? (
          <p className="muted">No peer offers subnet routes.</p>
        ) : (
          <table aria-label="Offered routes">
            <thead>
              <tr>
                <th scope="col">Prefix</th>
                <th scope="col">Via</th>
                <th scope="col">Role</th>
              </tr>
            </thead>
            <tbody>
              {r.offered.map((o) => (
                <tr key={`${o.cidr} ${o.viaId}`}>
                  <td className="mono">{o.cidr}</td>
                  <td>{o.viaName}</td>
                  <td>{!r.acceptRoutes ? 'not used' : o.primary ? 'primary' : 'standby'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="This device’s routes">
        <p className="muted small">
          Offer networks this device can reach to your other devices. An admin (or an auto-approver
          in the policy) approves each prefix.
        </p>
        {r.advertised.length > 0 && (
          <ul className="plain" aria-label="Advertised routes">
            {r.advertised.map((cidr) => (
              <li key={cidr} className="route-row">
                <span className="mono">{cidr}</span>
                <span className={approved.has(cidr) ? 'ok' : 'pending'}>
                  {approved.has(cidr) ? 'approved' : 'waiting for approval'}
                </span>
                <button
                  type="button"
                  aria-label={`Stop advertising ${cidr}`}
                  onClick={() => advertise(r.advertised.filter((c) => c !== cidr))}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            add();
          }}
        >
          <input
            aria-label="Route to advertise"
            placeholder="192.168.1.0/24"
            value={draft}
            aria-invalid={draftError !== null}
            aria-describedby={draftError ? 'route-error' : undefined}
            onChange={(e) => setDraft(e.target.value)}
          />
          <button type="submit" disabled={!ipc || draft.trim() === ''}>
            Advertise
          </button>
        </form>
        {draftError && (
          <p id="route-error" role="alert" className="error-text">
            {draftError}
          </p>
        )}
        <Switch
          label="Offer this device as an exit node"
          description={
            r.advertiseExitNode
              ? r.exitNodeApproved
                ? 'Approved: peers may send their internet traffic through this device.'
                : 'Waiting for an admin to approve.'
              : 'Let peers send their internet traffic through this device.'
          }
          checked={r.advertiseExitNode}
          disabled={!ipc || app.prefs === null}
          onChange={(v) => {
            if (ipc)
              void run('Changing the exit node offer', () =>
                ipc.client.routes.setAdvertiseExitNode(v),
              );
          }}
        />
      </Section>
    </>
  );
}
