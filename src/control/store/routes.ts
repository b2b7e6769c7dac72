/**
 * Subnet routes and exit nodes per device (table device_routes, migration 0001). A row per
 * (device, prefix) carries two independent facts: the device advertises it (from its host info)
 * and an admin or autoApprovers approved it. A route serves traffic only when both hold, so an
 * approval survives the device briefly withdrawing the route, and an admin may approve a prefix
 * before the device advertises it (pre-approval). A row with neither fact is deleted.
 *
 * An exit node is the pair 0.0.0.0/0 and ::/0 with is_exit set, approved and advertised
 * together. Default routes in a subnet-route list are ignored: offering them is what
 * "advertise exit node" is for, and mixing the two would let one approval mean two things.
 */
import type { Selectable } from 'kysely';
import { fromBool, toBool } from './codec.js';
import type { Ctx } from './context.js';
import type { DeviceRoutesTable } from './schema.js';

export const EXIT_NODE_PREFIXES: readonly string[] = ['0.0.0.0/0', '::/0'];
const isDefaultRoute = (prefix: string): boolean => EXIT_NODE_PREFIXES.includes(prefix);

export interface DeviceRoutes {
  deviceId: string;
  /** Subnet routes the device advertises (canonical CIDRs, sorted). */
  advertised: string[];
  /** Subnet routes approved by an admin or autoApprovers, advertised or not (sorted). */
  approved: string[];
  /** Advertised and approved: what peers may route through this device. */
  enabled: string[];
  exitNode: { advertised: boolean; approved: boolean; enabled: boolean };
}

export interface Advertised {
  routes: readonly string[];
  exitNode: boolean;
}

export interface RouteChange {
  before: DeviceRoutes;
  after: DeviceRoutes;
  /** Anything stored changed. */
  changed: boolean;
}

interface RowState {
  advertised: boolean;
  approved: boolean;
  isExit: boolean;
}

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

export function emptyRoutes(deviceId: string): DeviceRoutes {
  return {
    deviceId,
    advertised: [],
    approved: [],
    enabled: [],
    exitNode: { advertised: false, approved: false, enabled: false },
  };
}

function fromRows(deviceId: string, rows: ReadonlyMap<string, RowState>): DeviceRoutes {
  const subnet = [...rows].filter(([, r]) => !r.isExit);
  const exit = [...rows].filter(([, r]) => r.isExit).map(([, r]) => r);
  const exitAdvertised = exit.length > 0 && exit.every((r) => r.advertised);
  const exitApproved = exit.length > 0 && exit.every((r) => r.approved);
  return {
    deviceId,
    advertised: sorted(subnet.filter(([, r]) => r.advertised).map(([p]) => p)),
    approved: sorted(subnet.filter(([, r]) => r.approved).map(([p]) => p)),
    enabled: sorted(subnet.filter(([, r]) => r.advertised && r.approved).map(([p]) => p)),
    exitNode: {
      advertised: exitAdvertised,
      approved: exitApproved,
      enabled: exitAdvertised && exitApproved,
    },
  };
}

function toState(row: Selectable<DeviceRoutesTable>): RowState {
  return {
    advertised: toBool(row.advertised),
    approved: toBool(row.approved),
    isExit: toBool(row.is_exit),
  };
}

const same = (a: RowState | undefined, b: RowState | undefined): boolean =>
  a?.advertised === b?.advertised && a?.approved === b?.approved && a?.isExit === b?.isExit;

export class RouteRepository {
  constructor(private readonly ctx: Ctx) {}

  private async rows(ctx: Ctx, deviceId: string): Promise<Map<string, RowState>> {
    const rows = await ctx.db
      .selectFrom('device_routes')
      .selectAll()
      .where('device_id', '=', deviceId)
      .execute();
    return new Map(rows.map((r) => [r.prefix, toState(r)]));
  }

  /** The device's routes (all empty when it has none, or does not exist). */
  async get(deviceId: string): Promise<DeviceRoutes> {
    return fromRows(deviceId, await this.rows(this.ctx, deviceId));
  }

  /** Every device of the network that advertises or has approved anything, by device id. */
  async listByNetwork(networkId: string): Promise<Map<string, DeviceRoutes>> {
    const rows = await this.ctx.db
      .selectFrom('device_routes as r')
      .innerJoin('devices as d', 'd.id', 'r.device_id')
      .selectAll('r')
      .where('d.network_id', '=', networkId)
      .execute();
    const byDevice = new Map<string, Map<string, RowState>>();
    for (const r of rows) {
      const m = byDevice.get(r.device_id) ?? new Map<string, RowState>();
      m.set(r.prefix, toState(r));
      byDevice.set(r.device_id, m);
    }
    return new Map([...byDevice].map(([id, m]) => [id, fromRows(id, m)]));
  }

  /**
   * Records what the device advertises now (from its host info): listed routes become
   * advertised, others stop being advertised; approvals stay. Null if the device does not exist.
   */
  setAdvertised(deviceId: string, adv: Advertised): Promise<RouteChange | null> {
    const routes = new Set(adv.routes.filter((p) => !isDefaultRoute(p)));
    return this.edit(
      deviceId,
      (prefix, r) => {
        const isExit = isDefaultRoute(prefix);
        return { ...r, isExit, advertised: isExit ? adv.exitNode : routes.has(prefix) };
      },
      [...routes, ...(adv.exitNode ? EXIT_NODE_PREFIXES : [])],
    );
  }

  /** Replaces the set of approved subnet routes (default routes are ignored; see above). */
  setApprovedRoutes(deviceId: string, prefixes: readonly string[]): Promise<RouteChange | null> {
    const want = new Set(prefixes.filter((p) => !isDefaultRoute(p)));
    return this.edit(
      deviceId,
      (prefix, r) => (isDefaultRoute(prefix) ? r : { ...r, approved: want.has(prefix) }),
      [...want],
    );
  }

  /** Adds approvals (subnet routes), keeping the others. */
  approveRoutes(deviceId: string, prefixes: readonly string[]): Promise<RouteChange | null> {
    const add = new Set(prefixes.filter((p) => !isDefaultRoute(p)));
    return this.edit(deviceId, (prefix, r) => (add.has(prefix) ? { ...r, approved: true } : r), [
      ...add,
    ]);
  }

  setExitNodeApproved(deviceId: string, approved: boolean): Promise<RouteChange | null> {
    return this.edit(
      deviceId,
      (prefix, r) => (isDefaultRoute(prefix) ? { ...r, isExit: true, approved } : r),
      approved ? EXIT_NODE_PREFIXES : [],
    );
  }

  /**
   * Applies `next` to every existing row and to the rows `touch` names (new ones start as
   * neither advertised nor approved), then writes only what changed.
   */
  private edit(
    deviceId: string,
    next: (prefix: string, r: RowState) => RowState,
    touch: readonly string[],
  ): Promise<RouteChange | null> {
    return this.ctx.atomic(async (ctx) => {
      const device = await ctx.db
        .selectFrom('devices')
        .select('id')
        .where('id', '=', deviceId)
        .executeTakeFirst();
      if (!device) return null;
      const before = await this.rows(ctx, deviceId);
      const after = new Map<string, RowState>();
      const blank: RowState = { advertised: false, approved: false, isExit: false };
      for (const prefix of new Set([...before.keys(), ...touch])) {
        const r = next(prefix, before.get(prefix) ?? { ...blank, isExit: isDefaultRoute(prefix) });
        if (r.advertised || r.approved) after.set(prefix, r);
      }
      const now = ctx.now();
      let changed = false;
      for (const prefix of before.keys()) {
        if (after.has(prefix)) continue;
        changed = true;
        await ctx.db
          .deleteFrom('device_routes')
          .where('device_id', '=', deviceId)
          .where('prefix', '=', prefix)
          .execute();
      }
      for (const [prefix, r] of after) {
        if (same(before.get(prefix), r)) continue;
        changed = true;
        const values = {
          advertised: fromBool(r.advertised),
          approved: fromBool(r.approved),
          is_exit: fromBool(r.isExit),
          updated_at: now,
        };
        await ctx.db
          .insertInto('device_routes')
          .values({ device_id: deviceId, prefix, created_at: now, ...values })
          .onConflict((oc) => oc.columns(['device_id', 'prefix']).doUpdateSet(values))
          .execute();
      }
      return { before: fromRows(deviceId, before), after: fromRows(deviceId, after), changed };
    });
  }
}
