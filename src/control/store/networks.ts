/**
 * Networks (tenants): name, MagicDNS domain, address prefixes and settings.
 */
import type { Insertable, Selectable } from 'kysely';
import { z } from 'zod';
import { parseNetworkDomain } from '../../shared/names.js';
import { DnsRecord } from '../../shared/schema/control/netmap.js';
import { err, ok, type Result } from '../../shared/result.js';
import { DEFAULT_IPV4_PREFIX, isUla48, parseIpv4Prefix, randomUlaPrefix } from './addresses.js';
import { parseJson, toDate, toJson } from './codec.js';
import { lockNetwork, type Ctx } from './context.js';
import { newId } from './ids.js';
import type { NetworksTable } from './schema.js';

/** Tailscale's default: devices re-authenticate twice a year. */
export const DEFAULT_KEY_EXPIRY_DAYS = 180;
/**
 * A year of audit history: covers an annual review (SOC 2, ISO 27001 ask for about that) while
 * keeping the table bounded. 0 keeps entries forever.
 */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

const dnsSettingsSchema = z.object({
  /** Serve `<device>.<domain>` names from 100.100.100.100. */
  magicDns: z.boolean().default(true),
  /** Upstream resolvers pushed to devices (empty: keep the device's own). */
  nameservers: z.array(z.string()).default([]),
  searchDomains: z.array(z.string()).default([]),
  /** Split DNS: domain → resolvers used only for that domain. */
  splitDns: z.record(z.string(), z.array(z.string())).default({}),
  /** Records MagicDNS answers besides device names (validated by the admin API). */
  extraRecords: z.array(DnsRecord).default([]),
});

/**
 * Every field has a default, so rows written by an older version parse with the new fields
 * filled in, and a new network starts from `{}`.
 */
export const networkSettingsSchema = z.object({
  keyExpiryDays: z.number().int().positive().default(DEFAULT_KEY_EXPIRY_DAYS),
  deviceApprovalRequired: z.boolean().default(false),
  dns: dnsSettingsSchema.default(() => dnsSettingsSchema.parse({})),
  /** Days the audit log keeps entries (the retention sweep deletes older ones); 0: forever. */
  auditRetentionDays: z.number().int().min(0).default(DEFAULT_AUDIT_RETENTION_DAYS),
});

export type NetworkSettings = z.infer<typeof networkSettingsSchema>;
export type DnsSettings = NetworkSettings['dns'];
export type NetworkSettingsPatch = Partial<Omit<NetworkSettings, 'dns'>> & {
  dns?: Partial<DnsSettings>;
};

export interface Network {
  id: string;
  name: string;
  domain: string;
  ipv4Prefix: string;
  ipv6UlaPrefix: string;
  settings: NetworkSettings;
  createdAt: Date;
  updatedAt: Date;
}

export interface CreateNetworkInput {
  name: string;
  /** MagicDNS suffix, e.g. "trellis.internal" (shared/names.ts parseNetworkDomain rules). */
  domain: string;
  /** Default 100.64.0.0/10. */
  ipv4Prefix?: string;
  /** Default: a fresh random ULA /48. */
  ipv6UlaPrefix?: string;
  settings?: NetworkSettingsPatch;
}

export type CreateNetworkError = 'invalid_domain' | 'invalid_prefix' | 'domain_taken';

export function defaultNetworkSettings(): NetworkSettings {
  return networkSettingsSchema.parse({});
}

function mergeSettings(base: NetworkSettings, patch: NetworkSettingsPatch): NetworkSettings {
  return networkSettingsSchema.parse({ ...base, ...patch, dns: { ...base.dns, ...patch.dns } });
}

export function toNetwork(row: Selectable<NetworksTable>): Network {
  return {
    id: row.id,
    name: row.name,
    domain: row.domain,
    ipv4Prefix: row.ipv4_prefix,
    ipv6UlaPrefix: row.ipv6_ula_prefix,
    settings: parseJson(row.settings, networkSettingsSchema, 'networks.settings'),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

export class NetworkRepository {
  constructor(private readonly ctx: Ctx) {}

  async create(input: CreateNetworkInput): Promise<Result<Network, CreateNetworkError>> {
    const parsed = parseNetworkDomain(input.domain);
    if (!parsed.ok) return err('invalid_domain');
    const domain = parsed.value;
    const ipv4Prefix = input.ipv4Prefix ?? DEFAULT_IPV4_PREFIX;
    if (!parseIpv4Prefix(ipv4Prefix).ok) return err('invalid_prefix');
    const ipv6UlaPrefix = input.ipv6UlaPrefix ?? randomUlaPrefix();
    if (!isUla48(ipv6UlaPrefix)) return err('invalid_prefix');
    const now = this.ctx.now();
    const row: Insertable<NetworksTable> = {
      id: newId('net'),
      name: input.name,
      domain,
      ipv4_prefix: ipv4Prefix,
      ipv6_ula_prefix: ipv6UlaPrefix,
      settings: toJson(mergeSettings(defaultNetworkSettings(), input.settings ?? {})),
      created_at: now,
      updated_at: now,
    };
    const inserted = await this.ctx.db
      .insertInto('networks')
      .values(row)
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    return inserted ? ok(toNetwork(inserted)) : err('domain_taken');
  }

  async get(id: string): Promise<Network | null> {
    const row = await this.ctx.db
      .selectFrom('networks')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toNetwork(row) : null;
  }

  async findByDomain(domain: string): Promise<Network | null> {
    const row = await this.ctx.db
      .selectFrom('networks')
      .selectAll()
      .where('domain', '=', domain.toLowerCase().replace(/\.$/, ''))
      .executeTakeFirst();
    return row ? toNetwork(row) : null;
  }

  async list(): Promise<Network[]> {
    const rows = await this.ctx.db
      .selectFrom('networks')
      .selectAll()
      .orderBy('created_at')
      .execute();
    return rows.map(toNetwork);
  }

  async rename(id: string, name: string): Promise<Network | null> {
    const row = await this.ctx.db
      .updateTable('networks')
      .set({ name, updated_at: this.ctx.now() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? toNetwork(row) : null;
  }

  /** Read-modify-write of the settings document under the network's row lock. */
  async updateSettings(id: string, patch: NetworkSettingsPatch): Promise<Network | null> {
    return this.ctx.atomic(async (ctx) => {
      const current = await lockNetwork(ctx, id);
      if (!current) return null;
      const settings = mergeSettings(toNetwork(current).settings, patch);
      const row = await ctx.db
        .updateTable('networks')
        .set({ settings: toJson(settings), updated_at: ctx.now() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toNetwork(row);
    });
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('networks').where('id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }
}
