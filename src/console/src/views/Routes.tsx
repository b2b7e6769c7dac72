/**
 * Routes: per device, the subnet routes it advertises and which of them are approved, and its
 * exit node. A route serves traffic once it is both advertised and approved (by an admin here,
 * or by the policy's autoApprovers).
 */
import { useCallback, useMemo } from 'react';
import { AdminDevice, DeviceRoutesView } from '../../../shared/schema/control/admin.js';
import { listAll, request } from '../api.js';
import { Badge, LoadStatus, PageHeader, Table } from '../components/controls.js';
import { useAction } from '../components/notices.js';
import { useLoad } from '../components/useLoad.js';

const offersSomething = (r: DeviceRoutesView): boolean =>
  r.advertised.length > 0 || r.approved.length > 0 || r.exitNode.advertised || r.exitNode.approved;

function routeStatus(advertised: boolean, approved: boolean) {
  if (advertised && approved) return <Badge tone="ok">Serving</Badge>;
  if (advertised) return <Badge tone="warn">Waiting for approval</Badge>;
  return <Badge tone="muted">Approved, not advertised</Badge>;
}

export function Routes() {
  const load = useCallback(() => listAll(DeviceRoutesView, '/v1/admin/routes'), []);
  const routes = useLoad(load);
  const { busy, run } = useAction();
  const devices = useMemo(() => (routes.data?.items ?? []).filter(offersSomething), [routes.data]);
  const waiting = devices.reduce(
    (n, r) =>
      n +
      r.advertised.filter((p) => !r.approved.includes(p)).length +
      (r.exitNode.advertised && !r.exitNode.approved ? 1 : 0),
    0,
  );

  const patch = (
    r: DeviceRoutesView,
    body: { approvedRoutes?: string[]; exitNodeApproved?: boolean },
    done: string,
  ) =>
    run(async () => {
      await request(
        AdminDevice,
        'PATCH',
        `/v1/admin/devices/${encodeURIComponent(r.deviceId)}`,
        body,
      );
      routes.reload();
      return done;
    });
  const setRoute = (r: DeviceRoutesView, prefix: string, approve: boolean) =>
    patch(
      r,
      {
        approvedRoutes: approve ? [...r.approved, prefix] : r.approved.filter((p) => p !== prefix),
      },
      approve
        ? `Approved ${prefix} on ${r.deviceName}.`
        : `Unapproved ${prefix} on ${r.deviceName}.`,
    );

  return (
    <>
      <PageHeader
        title="Routes"
        description={`Subnet routes and exit nodes that devices offer.${waiting ? ` ${waiting} waiting for approval.` : ''}`}
        actions={
          <button type="button" onClick={routes.reload} disabled={routes.loading}>
            Refresh
          </button>
        }
      />
      <LoadStatus load={routes} />
      {routes.data && devices.length === 0 && (
        <p className="empty">
          No device advertises subnet routes or an exit node. Devices offer them with “Advertise
          routes” and “Advertise exit node” in the Trellis app or <code>trellis set</code>.
        </p>
      )}
      {devices.map((r) => {
        const prefixes = [...new Set([...r.advertised, ...r.approved])];
        return (
          <section key={r.deviceId} className="card" aria-labelledby={`routes-${r.deviceId}`}>
            <div className="card-head">
              <h2 id={`routes-${r.deviceId}`}>{r.deviceName}</h2>
            </div>
            <Table
              caption={`Routes offered by ${r.deviceName}`}
              columns={['Route', 'Status']}
              actions="Action"
            >
              {prefixes.map((p) => {
                const approved = r.approved.includes(p);
                return (
                  <tr key={p} data-route={p}>
                    <th scope="row" className="mono">
                      {p}
                    </th>
                    <td>{routeStatus(r.advertised.includes(p), approved)}</td>
                    <td className="actions">
                      <button
                        type="button"
                        className={approved ? undefined : 'primary'}
                        disabled={busy}
                        aria-label={`${approved ? 'Unapprove' : 'Approve'} route ${p} on ${r.deviceName}`}
                        onClick={() => void setRoute(r, p, !approved)}
                      >
                        {approved ? 'Unapprove' : 'Approve'}
                      </button>
                    </td>
                  </tr>
                );
              })}
              {(r.exitNode.advertised || r.exitNode.approved) && (
                <tr data-route="exit-node">
                  <th scope="row">Exit node</th>
                  <td>{routeStatus(r.exitNode.advertised, r.exitNode.approved)}</td>
                  <td className="actions">
                    <button
                      type="button"
                      className={r.exitNode.approved ? undefined : 'primary'}
                      disabled={busy}
                      aria-label={`${r.exitNode.approved ? 'Unapprove' : 'Approve'} exit node ${r.deviceName}`}
                      onClick={() =>
                        void patch(
                          r,
                          { exitNodeApproved: !r.exitNode.approved },
                          r.exitNode.approved
                            ? `${r.deviceName} is no longer an approved exit node.`
                            : `Approved ${r.deviceName} as an exit node.`,
                        )
                      }
                    >
                      {r.exitNode.approved ? 'Unapprove' : 'Approve'}
                    </button>
                  </td>
                </tr>
              )}
            </Table>
          </section>
        );
      })}
    </>
  );
}
