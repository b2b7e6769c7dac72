/**
 * Devices: registration (address and name allocation), lookups by credential and node key,
 * admin changes (rename, approve, expiry, tags, delete) and the cheap single-row updates the
 * netmap stream makes (endpoints, host info, relay, last seen).
 */
import type { Selectable, Updateable } from 'kysely';
import { sql } from 'kysely';
import { z } from 'zod';
import {
  isDnsLabel,
  MAX_LABEL_LENGTH,
  normalizeDeviceName,
  uniqueName,
} from '../../shared/names.js';
import { err, ok, type Result } from '../../shared/result.js';
import { ipv4At, ipv6For, lowestFree, parseIpv4Prefix, type Ipv4Plan } from './addresses.js';
import type { JsonValue } from './audit.js';
import {
  fromBool,
  fromDateOrNull,
  parseJson,
  toBool,
  toDate,
  toDateOrNull,
  toJson,
} from './codec.js';
import { affected, lockNetwork, type Ctx } from './context.js';
import { newId } from './ids.js';
import { toNetwork } from './networks.js';
import type { DevicesTable } from './schema.js';
import { hashToken, newToken, TOKEN_PREFIXES } from './tokens.js';

const stringsSchema = z.array(z.string());
const hostInfoSchema = z.record(z.string(), z.json());
const latenciesSchema = z.record(z.string(), z.number());

const DAY_MS = 86_400_000;

/**
 * Allocation attempts per registration. Allocation runs under the network's lock, so a second
 * attempt only happens when a writer that bypasses the lock (another version, a manual insert)
 * took the same address or name at the same moment; five such losses in a row mean a bug.
 */
const MAX_ALLOCATION_ATTEMPTS = 5;

/**
 * Room kept for a "-<n>" suffix when matching names that may clash: '-' plus 10 digits, far
 * more than any network's device count needs.
 */
const NAME_SUFFIX_ROOM = 11;

export interface Device {
  id: string;
  networkId: string;
  /** Owning user; null exactly when the device is tagged. */
  userId: string | null;
  tags: string[];
  /** Unique DNS label within the network: `<name>.<network domain>`. */
  name: string;
  /** Host name the device reported. */
  hostname: string;
  nodeKey: string;
  discoKey: string | null;
  ipv4: string;
  ipv6: string;
  os: string;
  osVersion: string;
  clientVersion: string;
  hostInfo: Record<string, JsonValue>;
  keyExpiry: Date | null;
  keyExpiryDisabled: boolean;
  approved: boolean;
  ephemeral: boolean;
  preauthKeyId: string | null;
  createdAt: Date;
  updatedAt: Date;
  lastSeenAt: Date | null;
  /** Endpoint candidates "ip:port" the device reported. */
  endpoints: string[];
  homeRelayRegion: number | null;
  /** Relay region id → latency in ms from the device's last netcheck. */
  relayLatencies: Record<string, number>;
  advertisedRoutes: string[];
}

export interface CreateDeviceInput {
  networkId: string;
  /** Owner; must be null when tags are given (tagged devices belong to no user). */
  userId: string | null;
  tags?: string[];
  hostname: string;
  /** Preferred name; default: derived from the hostname. Made unique with -1, -2, ... */
  name?: string;
  nodeKey: string;
  discoKey?: string | null;
  os?: string;
  osVersion?: string;
  clientVersion?: string;
  hostInfo?: Record<string, JsonValue>;
  ephemeral?: boolean;
  /** Default: approved unless the network requires device approval. */
  approved?: boolean;
  keyExpiryDisabled?: boolean;
  preauthKeyId?: string | null;
}

export type CreateDeviceError =
  'network_not_found' | 'invalid_owner' | 'node_key_in_use' | 'address_space_exhausted';

export interface HostInfoUpdate {
  hostname?: string;
  os?: string;
  osVersion?: string;
  clientVersion?: string;
  hostInfo?: Record<string, JsonValue>;
}

export function isKeyExpired(device: Device, now: Date): boolean {
  return (
    !device.keyExpiryDisabled &&
    device.keyExpiry !== null &&
    device.keyExpiry.getTime() <= now.getTime()
  );
}

function toDevice(row: Selectable<DevicesTable>): Device {
  return {
    id: row.id,
    networkId: row.network_id,
    userId: row.user_id,
    tags: parseJson(row.tags, stringsSchema, 'devices.tags'),
    name: row.name,
    hostname: row.hostname,
    nodeKey: row.node_key,
    discoKey: row.disco_key,
    ipv4: row.ipv4,
    ipv6: row.ipv6,
    os: row.os,
    osVersion: row.os_version,
    clientVersion: row.client_version,
    hostInfo: parseJson(row.host_info, hostInfoSchema, 'devices.host_info') as Record<
      string,
      JsonValue
    >,
    keyExpiry: toDateOrNull(row.key_expiry),
    keyExpiryDisabled: toBool(row.key_expiry_disabled),
    approved: toBool(row.approved),
    ephemeral: toBool(row.ephemeral),
    preauthKeyId: row.preauth_key_id,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    lastSeenAt: toDateOrNull(row.last_seen_at),
    endpoints: parseJson(row.endpoints, stringsSchema, 'devices.endpoints'),
    homeRelayRegion: row.home_relay_region,
    relayLatencies: parseJson(row.relay_latencies, latenciesSchema, 'devices.relay_latencies'),
    advertisedRoutes: parseJson(row.advertised_routes, stringsSchema, 'devices.advertised_routes'),
  };
}

/** Exactly one owner: a user, or a non-empty tag set. */
function validOwner(userId: string | null, tags: readonly string[]): boolean {
  return (userId === null) !== (tags.length === 0);
}

/**
 * The lowest free host index. The database returns the first few "gaps" (a used index whose
 * successor is free) through the unique (network_id, addr_index) index, so no full list of
 * addresses crosses the wire. The lowest free index is either 1, a gap, or the index right
 * after a reserved one; at most `reserved.length` gaps can be unusable (reserved), so asking
 * for one more than that always reaches a usable gap if there is one.
 */
async function nextFreeIndex(ctx: Ctx, networkId: string, plan: Ipv4Plan): Promise<number | null> {
  const gaps = await ctx.db
    .selectFrom('devices as d')
    .select(sql<number>`d.addr_index + 1`.as('idx'))
    .where('d.network_id', '=', networkId)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('devices as n')
            .select('n.id')
            .whereRef('n.network_id', '=', 'd.network_id')
            .where('n.addr_index', '=', sql<number>`d.addr_index + 1`),
        ),
      ),
    )
    .orderBy('d.addr_index')
    .limit(plan.reserved.length + 1)
    .execute();
  const extras = [1, ...plan.reserved.map((r) => r + 1)];
  const usedExtras = await ctx.db
    .selectFrom('devices')
    .select('addr_index')
    .where('network_id', '=', networkId)
    .where('addr_index', 'in', extras)
    .execute();
  const used = new Set(usedExtras.map((r) => r.addr_index));
  return lowestFree(plan, [...extras, ...gaps.map((g) => Number(g.idx))], used);
}

/**
 * The first of base, base-1, base-2, ... not held in the network (shared/names.ts uniqueName).
 * Every such candidate starts with the base cut to leave room for a suffix, so one prefix
 * query fetches every name that can clash. Names are [a-z0-9-] only: nothing to escape in LIKE.
 */
async function nextFreeName(ctx: Ctx, networkId: string, base: string): Promise<string> {
  const stem = base.slice(0, MAX_LABEL_LENGTH - NAME_SUFFIX_ROOM).replace(/-+$/, '');
  const rows = await ctx.db
    .selectFrom('devices')
    .select('name')
    .where('network_id', '=', networkId)
    .where('name', 'like', `${stem}%`)
    .execute();
  return uniqueName(base, new Set(rows.map((r) => r.name)));
}

export class DeviceRepository {
  constructor(private readonly ctx: Ctx) {}

  /**
   * Registers a device: picks the lowest free IPv4 of the network's prefix, the matching IPv6
   * and a unique name, and issues its node credential (returned once, stored hashed). Safe
   * under concurrency: allocation holds the network's lock (see lockNetwork), and the unique
   * indexes reject whatever slips past it, in which case allocation runs again.
   */
  create(
    input: CreateDeviceInput,
  ): Promise<Result<{ device: Device; credential: string }, CreateDeviceError>> {
    return this.ctx.atomic(async (ctx) => {
      const tags = input.tags ?? [];
      if (!validOwner(input.userId, tags)) return err('invalid_owner');
      const networkRow = await lockNetwork(ctx, input.networkId);
      if (!networkRow) return err('network_not_found');
      const network = toNetwork(networkRow);
      const plan = parseIpv4Prefix(network.ipv4Prefix);
      if (!plan.ok) throw new Error(`network ${network.id} has a corrupt prefix`);
      if (await this.nodeKeyTaken(ctx, input.nodeKey)) return err('node_key_in_use');

      const base = normalizeDeviceName(input.name ?? input.hostname);
      const credential = newToken(TOKEN_PREFIXES.node);
      const now = ctx.now();
      for (let attempt = 0; attempt < MAX_ALLOCATION_ATTEMPTS; attempt++) {
        const index = await nextFreeIndex(ctx, network.id, plan.value);
        if (index === null) return err('address_space_exhausted');
        const ipv4 = ipv4At(plan.value, index);
        const name = await nextFreeName(ctx, network.id, base);
        // DO NOTHING rather than catching the violation: on PostgreSQL a failed statement
        // would abort the transaction, and a caller's enclosing transaction with it.
        const row = await ctx.db
          .insertInto('devices')
          .values({
            id: newId('dev'),
            network_id: network.id,
            user_id: input.userId,
            tags: toJson(tags),
            name,
            hostname: input.hostname,
            node_key: input.nodeKey,
            disco_key: input.discoKey ?? null,
            credential_hash: hashToken(credential),
            addr_index: index,
            ipv4,
            ipv6: ipv6For(network.ipv6UlaPrefix, ipv4),
            os: input.os ?? '',
            os_version: input.osVersion ?? '',
            client_version: input.clientVersion ?? '',
            host_info: toJson(input.hostInfo ?? {}),
            key_expiry: now + network.settings.keyExpiryDays * DAY_MS,
            key_expiry_disabled: fromBool(input.keyExpiryDisabled ?? false),
            approved: fromBool(input.approved ?? !network.settings.deviceApprovalRequired),
            ephemeral: fromBool(input.ephemeral ?? false),
            preauth_key_id: input.preauthKeyId ?? null,
            created_at: now,
            updated_at: now,
            last_seen_at: null,
            endpoints: '[]',
            home_relay_region: null,
            relay_latencies: '{}',
            advertised_routes: '[]',
          })
          .onConflict((oc) => oc.doNothing())
          .returningAll()
          .executeTakeFirst();
        if (row) return ok({ device: toDevice(row), credential });
        if (await this.nodeKeyTaken(ctx, input.nodeKey)) return err('node_key_in_use');
      }
      throw new Error(
        `device allocation in network ${network.id} lost ${MAX_ALLOCATION_ATTEMPTS} races`,
      );
    });
  }

  private async nodeKeyTaken(ctx: Ctx, nodeKey: string): Promise<boolean> {
    const row = await ctx.db
      .selectFrom('devices')
      .select('id')
      .where('node_key', '=', nodeKey)
      .executeTakeFirst();
    return row !== undefined;
  }

  private async findOne(
    column: 'id' | 'credential_hash' | 'node_key',
    value: string,
  ): Promise<Device | null> {
    const row = await this.ctx.db
      .selectFrom('devices')
      .selectAll()
      .where(column, '=', value)
      .executeTakeFirst();
    return row ? toDevice(row) : null;
  }

  get(id: string): Promise<Device | null> {
    return this.findOne('id', id);
  }

  /** Authenticates the helper: the device whose node credential hashes to this. */
  findByCredentialHash(credentialHash: string): Promise<Device | null> {
    return this.findOne('credential_hash', credentialHash);
  }

  findByNodeKey(nodeKey: string): Promise<Device | null> {
    return this.findOne('node_key', nodeKey);
  }

  async list(networkId: string): Promise<Device[]> {
    const rows = await this.ctx.db
      .selectFrom('devices')
      .selectAll()
      .where('network_id', '=', networkId)
      .orderBy('name')
      .execute();
    return rows.map(toDevice);
  }

  async listByUser(userId: string): Promise<Device[]> {
    const rows = await this.ctx.db
      .selectFrom('devices')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('name')
      .execute();
    return rows.map(toDevice);
  }

  /**
   * Renames a device. An admin's explicit name is taken as typed (case aside) or refused: it
   * must be a DNS label ('invalid_name'; shared/names.ts normalizeDeviceName can suggest one)
   * and free in the network ('name_taken').
   */
  rename(
    id: string,
    name: string,
  ): Promise<Result<Device, 'not_found' | 'invalid_name' | 'name_taken'>> {
    return this.ctx.atomic(async (ctx) => {
      const label = name.trim().toLowerCase();
      if (!isDnsLabel(label)) return err('invalid_name');
      const current = await new DeviceRepository(ctx).get(id);
      if (!current) return err('not_found');
      await lockNetwork(ctx, current.networkId);
      const holder = await ctx.db
        .selectFrom('devices')
        .select('id')
        .where('network_id', '=', current.networkId)
        .where('name', '=', label)
        .executeTakeFirst();
      if (holder && holder.id !== id) return err('name_taken');
      const updated = await new DeviceRepository(ctx).update(id, { name: label });
      return updated ? ok(updated) : err('not_found');
    });
  }

  private async update(id: string, set: Updateable<DevicesTable>): Promise<Device | null> {
    const row = await this.ctx.db
      .updateTable('devices')
      .set({ ...set, updated_at: this.ctx.now() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? toDevice(row) : null;
  }

  /** Single-row update without reading the row back: for the netmap stream's frequent writes. */
  private async patch(id: string, set: Updateable<DevicesTable>): Promise<boolean> {
    const r = await this.ctx.db
      .updateTable('devices')
      .set({ ...set, updated_at: this.ctx.now() })
      .where('id', '=', id)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  setApproved(id: string, approved: boolean): Promise<Device | null> {
    return this.update(id, { approved: fromBool(approved) });
  }

  /**
   * Sets the key expiry date. `noted`: the caller records this expiry in the audit log itself
   * (an admin expiring the key now), so the expiry sweep does not record it a second time.
   */
  setKeyExpiry(
    id: string,
    expiry: Date | null,
    opts: { noted?: boolean } = {},
  ): Promise<Device | null> {
    return this.update(id, {
      key_expiry: fromDateOrNull(expiry),
      ...(opts.noted && expiry ? { key_expiry_noted_at: expiry.getTime() } : {}),
    });
  }

  /**
   * The expiry sweep: devices whose key expired at or before `now` and whose expiry the audit
   * log has not recorded yet. Marks them recorded in the same statement, so each expiry is
   * handed out once, even to several control replicas sweeping at the same moment.
   */
  async claimExpiredKeys(now: Date): Promise<Device[]> {
    const t = now.getTime();
    const rows = await this.ctx.db
      .updateTable('devices')
      .set({ key_expiry_noted_at: t })
      .where('key_expiry_disabled', '=', fromBool(false))
      .where('key_expiry', '<=', t)
      .where((eb) =>
        eb.or([
          eb('key_expiry_noted_at', 'is', null),
          eb('key_expiry_noted_at', '<', eb.ref('key_expiry')),
        ]),
      )
      .returningAll()
      .execute();
    return rows.map(toDevice);
  }

  setKeyExpiryDisabled(id: string, disabled: boolean): Promise<Device | null> {
    return this.update(id, { key_expiry_disabled: fromBool(disabled) });
  }

  /**
   * Tags a device (which drops its user owner, as in Tailscale), or replaces its tags. Removing
   * all tags from a device that has no user is 'invalid_owner'.
   */
  async setTags(
    id: string,
    tags: string[],
  ): Promise<Result<Device, 'not_found' | 'invalid_owner'>> {
    return this.ctx.atomic(async (ctx) => {
      const repo = new DeviceRepository(ctx);
      const current = await repo.get(id);
      if (!current) return err('not_found');
      const userId = tags.length > 0 ? null : current.userId;
      if (!validOwner(userId, tags)) return err('invalid_owner');
      const updated = await repo.update(id, { tags: toJson(tags), user_id: userId });
      return updated ? ok(updated) : err('not_found');
    });
  }

  /**
   * Re-login with a new node key: the key expiry restarts from now with the network's default.
   */
  rotateNodeKey(
    id: string,
    nodeKey: string,
  ): Promise<Result<Device, 'not_found' | 'node_key_in_use'>> {
    return this.ctx.atomic(async (ctx) => {
      const repo = new DeviceRepository(ctx);
      const current = await repo.get(id);
      if (!current) return err('not_found');
      if (current.nodeKey === nodeKey) return ok(current);
      if (await this.nodeKeyTaken(ctx, nodeKey)) return err('node_key_in_use');
      const network = await ctx.db
        .selectFrom('networks')
        .selectAll()
        .where('id', '=', current.networkId)
        .executeTakeFirstOrThrow();
      const days = toNetwork(network).settings.keyExpiryDays;
      const updated = await repo.update(id, {
        node_key: nodeKey,
        key_expiry: ctx.now() + days * DAY_MS,
      });
      return updated ? ok(updated) : err('not_found');
    });
  }

  /** Issues a new node credential (the old one stops working); null if no such device. */
  async rotateCredential(id: string): Promise<string | null> {
    const credential = newToken(TOKEN_PREFIXES.node);
    return (await this.patch(id, { credential_hash: hashToken(credential) })) ? credential : null;
  }

  setDiscoKey(id: string, discoKey: string | null): Promise<boolean> {
    return this.patch(id, { disco_key: discoKey });
  }

  updateEndpoints(id: string, endpoints: string[]): Promise<boolean> {
    return this.patch(id, { endpoints: toJson(endpoints) });
  }

  updateHostInfo(id: string, u: HostInfoUpdate): Promise<boolean> {
    return this.patch(id, {
      ...(u.hostname === undefined ? {} : { hostname: u.hostname }),
      ...(u.os === undefined ? {} : { os: u.os }),
      ...(u.osVersion === undefined ? {} : { os_version: u.osVersion }),
      ...(u.clientVersion === undefined ? {} : { client_version: u.clientVersion }),
      ...(u.hostInfo === undefined ? {} : { host_info: toJson(u.hostInfo) }),
    });
  }

  updateRelay(
    id: string,
    relay: { homeRelayRegion: number | null; relayLatencies: Record<string, number> },
  ): Promise<boolean> {
    return this.patch(id, {
      home_relay_region: relay.homeRelayRegion,
      relay_latencies: toJson(relay.relayLatencies),
    });
  }

  setAdvertisedRoutes(id: string, routes: string[]): Promise<boolean> {
    return this.patch(id, { advertised_routes: toJson(routes) });
  }

  /** Last-seen heartbeat. Leaves updated_at alone: being online is not a configuration change. */
  async markSeen(id: string, at?: Date): Promise<boolean> {
    const r = await this.ctx.db
      .updateTable('devices')
      .set({ last_seen_at: at ? at.getTime() : this.ctx.now() })
      .where('id', '=', id)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('devices').where('id', '=', id).executeTakeFirst();
    return affected(r) > 0;
  }

  /**
   * Removes ephemeral devices not seen since `cutoff` (never-seen ones count from creation);
   * returns the removed devices so the caller can audit and notify peers.
   */
  async deleteStaleEphemeral(cutoff: Date): Promise<Device[]> {
    const t = cutoff.getTime();
    const rows = await this.ctx.db
      .deleteFrom('devices')
      .where('ephemeral', '=', fromBool(true))
      .where((eb) =>
        eb.or([
          eb('last_seen_at', '<', t),
          eb.and([eb('last_seen_at', 'is', null), eb('created_at', '<', t)]),
        ]),
      )
      .returningAll()
      .execute();
    return rows.map(toDevice);
  }
}
