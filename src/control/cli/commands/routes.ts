/**
 * `trellis-control routes ...`: subnet routes and exit nodes per device; approve or withdraw
 * approval of a prefix or of a device's exit node ("exit"). Approval may precede the device
 * advertising the prefix. Without --server the change reaches live netmaps at the server's restart.
 */
import { Cidr } from '../../../shared/schema/common.js';
import {
  UpdateDeviceRequest,
  type DeviceRoutesView,
} from '../../../shared/schema/control/admin.js';
import { parseRequest, usageError, type Command, type RunContext } from '../command.js';
import { table } from '../output.js';
import { listAll, resolveDevice } from '../resolve.js';
import { withAdmin } from '../session.js';

const EXIT = 'exit';

function routesTable(items: DeviceRoutesView[]): string {
  const state = (r: DeviceRoutesView, p: string): string => {
    const adv = r.advertised.includes(p);
    const ok = r.approved.includes(p);
    return adv && ok ? 'enabled' : adv ? 'pending' : 'approved, not advertised';
  };
  const rows: string[][] = [];
  for (const r of items) {
    for (const p of [...new Set([...r.advertised, ...r.approved])].sort())
      rows.push([r.deviceName, p, state(r, p)]);
    if (r.exitNode.advertised || r.exitNode.approved)
      rows.push([
        r.deviceName,
        'exit node',
        r.exitNode.enabled
          ? 'enabled'
          : r.exitNode.advertised
            ? 'pending'
            : 'approved, not advertised',
      ]);
  }
  return table(['DEVICE', 'ROUTE', 'STATE'], rows);
}

/** `routes approve|unapprove DEVICE PREFIX...|exit`: read the device, change its approved set. */
function approval(verb: 'approve' | 'unapprove'): Command {
  const on = verb === 'approve';
  return {
    name: `routes ${verb}`,
    argsUsage: 'DEVICE PREFIX...|exit',
    summary: on
      ? 'approve subnet routes (CIDRs) or the exit node ("exit") of a device'
      : 'withdraw approval of subnet routes or of the exit node ("exit")',
    minArgs: 2,
    maxArgs: Number.MAX_SAFE_INTEGER,
    run: ({ args, opts, out }: RunContext) =>
      withAdmin(opts, out, async ({ api }) => {
        const d = await resolveDevice(api, args[0] ?? '');
        const words = args.slice(1);
        const exit = words.includes(EXIT);
        const prefixes = words
          .filter((w) => w !== EXIT)
          .map((w) => {
            const p = Cidr.safeParse(w);
            if (!p.success) throw usageError(`${w}: expected a CIDR prefix or "${EXIT}"`);
            return p.data;
          });
        const current = new Set(d.routes.approved);
        for (const p of prefixes) {
          if (on) current.add(p);
          else current.delete(p);
        }
        const req = parseRequest(UpdateDeviceRequest, {
          ...(prefixes.length ? { approvedRoutes: [...current].sort() } : {}),
          ...(exit ? { exitNodeApproved: on } : {}),
        });
        const after = await api.updateDevice(d.id, req);
        out.emit(after, () =>
          [
            `${after.name}: approved routes ${after.routes.approved.join(', ') || '-'}`,
            `exit node ${after.exitNode.approved ? 'approved' : 'not approved'}`,
          ].join('; '),
        );
      }),
  };
}

export const routeCommands: Command[] = [
  {
    name: 'routes list',
    summary: 'list advertised and approved subnet routes and exit nodes',
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ policy }) => {
        const all = (await listAll((q) => policy.listRoutes(q))).filter(
          (r) =>
            r.advertised.length ||
            r.approved.length ||
            r.exitNode.advertised ||
            r.exitNode.approved,
        );
        out.emit(all, () => routesTable(all));
      }),
  },
  approval('approve'),
  approval('unapprove'),
];
