/**
 * 0001_init: networks, users, sessions, login sessions, pre-auth keys, devices, device routes,
 * API keys, the audit log and the server key/value table.
 *
 * Foreign keys cascade from a network to everything it owns; "created_by" style references are
 * SET NULL so deleting a user keeps the keys and audit trail they made.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import type { ColumnTypes } from './column-types.js';

export function init(t: ColumnTypes): Migration {
  const falseLit = sql`false`; // SQLite >= 3.23 reads TRUE/FALSE as 1/0
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('networks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('domain', 'text', (c) => c.notNull())
        .addColumn('ipv4_prefix', 'text', (c) => c.notNull().defaultTo('100.64.0.0/10'))
        .addColumn('ipv6_ula_prefix', 'text', (c) => c.notNull())
        .addColumn('settings', t.json, (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('updated_at', t.millis, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('networks_domain_uq')
        .on('networks')
        .column('domain')
        .unique()
        .execute();

      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('network_id', 'text', (c) =>
          c.notNull().references('networks.id').onDelete('cascade'),
        )
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) =>
          c.notNull().check(sql`role in ('owner', 'admin', 'member')`),
        )
        .addColumn('password_hash', 'text')
        .addColumn('oidc_issuer', 'text')
        .addColumn('oidc_subject', 'text')
        .addColumn('groups', t.json, (c) => c.notNull().defaultTo('[]'))
        .addColumn('disabled', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('updated_at', t.millis, (c) => c.notNull())
        .addColumn('last_login_at', t.millis)
        .addCheckConstraint(
          'users_oidc_pair_ck',
          sql`(oidc_issuer is null) = (oidc_subject is null)`,
        )
        .execute();
      await db.schema
        .createIndex('users_network_email_uq')
        .on('users')
        .columns(['network_id', 'email'])
        .unique()
        .execute();
      // NULLs are distinct in unique indexes on both dialects, so local users do not collide.
      await db.schema
        .createIndex('users_network_oidc_uq')
        .on('users')
        .columns(['network_id', 'oidc_issuer', 'oidc_subject'])
        .unique()
        .execute();

      await db.schema
        .createTable('user_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull())
        .addColumn('client_name', 'text')
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('expires_at', t.millis, (c) => c.notNull())
        .addColumn('last_used_at', t.millis)
        .addColumn('revoked_at', t.millis)
        .execute();
      await db.schema
        .createIndex('user_sessions_token_hash_uq')
        .on('user_sessions')
        .column('token_hash')
        .unique()
        .execute();
      await db.schema
        .createIndex('user_sessions_user_idx')
        .on('user_sessions')
        .column('user_id')
        .execute();
      await db.schema
        .createIndex('user_sessions_expires_idx')
        .on('user_sessions')
        .column('expires_at')
        .execute();

      await db.schema
        .createTable('login_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('poll_token_hash', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) =>
          c.notNull().check(sql`state in ('pending', 'complete', 'expired')`),
        )
        .addColumn('client_name', 'text')
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('user_session_id', 'text', (c) =>
          c.references('user_sessions.id').onDelete('set null'),
        )
        .addColumn('oidc_state', 'text')
        .addColumn('oidc_nonce', 'text')
        .addColumn('oidc_code_verifier', 'text')
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('expires_at', t.millis, (c) => c.notNull())
        .addColumn('completed_at', t.millis)
        .execute();
      for (const col of ['poll_token_hash', 'secret_hash', 'oidc_state'] as const) {
        await db.schema
          .createIndex(`login_sessions_${col}_uq`)
          .on('login_sessions')
          .column(col)
          .unique()
          .execute();
      }
      await db.schema
        .createIndex('login_sessions_expires_idx')
        .on('login_sessions')
        .column('expires_at')
        .execute();

      await db.schema
        .createTable('preauth_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('network_id', 'text', (c) =>
          c.notNull().references('networks.id').onDelete('cascade'),
        )
        .addColumn('key_hash', 'text', (c) => c.notNull())
        .addColumn('key_prefix', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_by', 'text', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('reusable', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('ephemeral', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('preapproved', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('tags', t.json, (c) => c.notNull().defaultTo('[]'))
        .addColumn('expires_at', t.millis, (c) => c.notNull())
        .addColumn('used_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('revoked_at', t.millis)
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('last_used_at', t.millis)
        .execute();
      await db.schema
        .createIndex('preauth_keys_key_hash_uq')
        .on('preauth_keys')
        .column('key_hash')
        .unique()
        .execute();
      await db.schema
        .createIndex('preauth_keys_network_idx')
        .on('preauth_keys')
        .column('network_id')
        .execute();

      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('network_id', 'text', (c) =>
          c.notNull().references('networks.id').onDelete('cascade'),
        )
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('tags', t.json, (c) => c.notNull().defaultTo('[]'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hostname', 'text', (c) => c.notNull())
        .addColumn('node_key', 'text', (c) => c.notNull())
        .addColumn('disco_key', 'text')
        .addColumn('credential_hash', 'text', (c) => c.notNull())
        .addColumn('addr_index', 'integer', (c) => c.notNull())
        .addColumn('ipv4', 'text', (c) => c.notNull())
        .addColumn('ipv6', 'text', (c) => c.notNull())
        .addColumn('os', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('os_version', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('client_version', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('host_info', t.json, (c) => c.notNull().defaultTo('{}'))
        .addColumn('key_expiry', t.millis)
        .addColumn('key_expiry_disabled', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('approved', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('ephemeral', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('preauth_key_id', 'text', (c) =>
          c.references('preauth_keys.id').onDelete('set null'),
        )
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('updated_at', t.millis, (c) => c.notNull())
        .addColumn('last_seen_at', t.millis)
        .addColumn('endpoints', t.json, (c) => c.notNull().defaultTo('[]'))
        .addColumn('home_relay_region', 'integer')
        .addColumn('relay_latencies', t.json, (c) => c.notNull().defaultTo('{}'))
        .addColumn('advertised_routes', t.json, (c) => c.notNull().defaultTo('[]'))
        .execute();
      // The unique indexes are what make concurrent registrations safe: the allocator may race,
      // the database may not.
      const deviceUniques: Array<[string, string[]]> = [
        ['devices_node_key_uq', ['node_key']],
        ['devices_credential_hash_uq', ['credential_hash']],
        ['devices_network_name_uq', ['network_id', 'name']],
        ['devices_network_addr_uq', ['network_id', 'addr_index']],
        ['devices_network_ipv4_uq', ['network_id', 'ipv4']],
        ['devices_network_ipv6_uq', ['network_id', 'ipv6']],
      ];
      for (const [name, cols] of deviceUniques) {
        await db.schema.createIndex(name).on('devices').columns(cols).unique().execute();
      }
      await db.schema.createIndex('devices_user_idx').on('devices').column('user_id').execute();

      await db.schema
        .createTable('device_routes')
        .addColumn('device_id', 'text', (c) =>
          c.notNull().references('devices.id').onDelete('cascade'),
        )
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('advertised', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('approved', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('is_exit', t.bool, (c) => c.notNull().defaultTo(falseLit))
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('updated_at', t.millis, (c) => c.notNull())
        .addPrimaryKeyConstraint('device_routes_pk', ['device_id', 'prefix'])
        .execute();
      // Failover looks up every router of one prefix.
      await db.schema
        .createIndex('device_routes_prefix_idx')
        .on('device_routes')
        .column('prefix')
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('network_id', 'text', (c) =>
          c.notNull().references('networks.id').onDelete('cascade'),
        )
        .addColumn('key_hash', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_by', 'text', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('expires_at', t.millis)
        .addColumn('revoked_at', t.millis)
        .addColumn('created_at', t.millis, (c) => c.notNull())
        .addColumn('last_used_at', t.millis)
        .execute();
      await db.schema
        .createIndex('api_keys_key_hash_uq')
        .on('api_keys')
        .column('key_hash')
        .unique()
        .execute();
      await db.schema
        .createIndex('api_keys_network_idx')
        .on('api_keys')
        .column('network_id')
        .execute();

      // The audit log outlives what it describes: no foreign keys.
      await db.schema
        .createTable('audit_log')
        .addColumn('id', t.dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
          t.dialect === 'postgres'
            ? c.primaryKey().generatedAlwaysAsIdentity()
            : c.primaryKey().autoIncrement(),
        )
        .addColumn('network_id', 'text')
        .addColumn('at', t.millis, (c) => c.notNull())
        .addColumn('actor_type', 'text', (c) =>
          c.notNull().check(sql`actor_type in ('user', 'api_key', 'device', 'system')`),
        )
        .addColumn('actor_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_type', 'text')
        .addColumn('target_id', 'text')
        .addColumn('diff', t.json)
        .execute();
      await db.schema
        .createIndex('audit_log_network_id_idx')
        .on('audit_log')
        .columns(['network_id', 'id'])
        .execute();
      await db.schema
        .createIndex('audit_log_network_at_idx')
        .on('audit_log')
        .columns(['network_id', 'at'])
        .execute();
      await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute();

      await db.schema
        .createTable('kv')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', t.millis, (c) => c.notNull())
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of [
        'kv',
        'audit_log',
        'api_keys',
        'device_routes',
        'devices',
        'preauth_keys',
        'login_sessions',
        'user_sessions',
        'users',
        'networks',
      ]) {
        await db.schema.dropTable(table).ifExists().execute();
      }
    },
  };
}
