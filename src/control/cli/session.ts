/**
 * Where the CLI's admin commands run: directly on the configured database (the default, for
 * the server machine: no API key needed), or against a running server's admin API with
 * `--server URL` and an API key.
 *
 * Direct mode writes the store only. A running server reads devices into its netmap hub at
 * start, so a device change made this way reaches connected devices after the server restarts;
 * use `--server` to change a live network.
 */
import fs from 'node:fs';
import path from 'node:path';
import { adminService, type AdminApi } from '../admin/service.js';
import { storeOnlyMesh, type AdminDeps, type Caller } from '../admin/deps.js';
import { bootstrap } from '../bootstrap.js';
import { loadConfig, storeConfigOf, type ControlConfig } from '../config.js';
import { openStore, type Store } from '../store/index.js';
import { CliError, str, usageError, type OptionValues } from './command.js';
import { httpAdmin } from './http-admin.js';
import { httpPolicy } from './http-policy.js';
import { policyService, type PolicyAdminApi } from '../admin/policy.js';
import { routesService, type RoutesAdminApi } from '../admin/routes.js';
import type { Output } from './output.js';

export interface AdminSession {
  readonly api: AdminApi;
  /** Policy versions and routes (same two modes as `api`). */
  readonly policy: PolicyAdminApi & RoutesAdminApi;
  /** True when device presence (online) is known: only a running server sees map streams. */
  readonly live: boolean;
  close(): Promise<void>;
}

export function configFrom(opts: OptionValues): ControlConfig {
  const r = loadConfig(str(opts, 'config'), process.env);
  if (!r.ok) throw new CliError(`configuration: ${r.error.message}`);
  return r.value;
}

/** The store settings of a configuration (what `serve` opens). */

/** Opens the configured database (creating the SQLite file's directory on first use). */
export async function openConfiguredStore(config: ControlConfig): Promise<Store> {
  const sc = storeConfigOf(config);
  if (sc.driver === 'sqlite' && sc.path !== ':memory:') {
    try {
      fs.mkdirSync(path.dirname(sc.path), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new CliError(`cannot create ${path.dirname(sc.path)}: ${(e as Error).message}`);
    }
  }
  try {
    return await openStore(sc);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

async function openDirect(config: ControlConfig, out: Output): Promise<AdminSession> {
  const store = await openConfiguredStore(config);
  try {
    await store.migrate();
    const boot = await bootstrap(store, config);
    if (boot.owner) {
      out.note(
        `Initialized a new network. The owner is ${boot.owner.email} with password: ${boot.owner.password}\n` +
          `(shown once; change it with: trellis-control users set-password ${boot.owner.email})`,
      );
    }
    const deps: AdminDeps = {
      store,
      now: Date.now,
      mesh: storeOnlyMesh,
      audit: async (entry) => {
        try {
          await store.audit.append(entry);
        } catch (e) {
          out.note(`warning: could not write the audit log: ${(e as Error).message}`);
        }
      },
      oidcProviderName: config.oidc?.name ?? null,
    };
    // The server machine's operator: owner powers, recorded as the system acting via the CLI.
    const caller: Caller = {
      networkId: boot.network.id,
      actor: { type: 'system', id: null },
      power: 'owner',
      userId: null,
      sessionId: null,
      via: 'cli',
    };
    return {
      api: adminService(deps, caller),
      policy: { ...policyService(deps, caller), ...routesService(deps, caller) },
      live: false,
      close: () => store.close(),
    };
  } catch (e) {
    await store.close();
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message);
  }
}

export async function openAdmin(opts: OptionValues, out: Output): Promise<AdminSession> {
  const server = str(opts, 'server') ?? process.env.TRELLIS_SERVER;
  if (server) {
    const key = str(opts, 'api-key') ?? process.env.TRELLIS_API_KEY;
    if (!key) throw usageError('--server needs an API key: set TRELLIS_API_KEY or pass --api-key');
    if (!/^https?:\/\//.test(server)) throw usageError('--server: expected an http(s) URL');
    return {
      api: httpAdmin(server, key),
      policy: httpPolicy(server, key),
      live: true,
      close: async () => undefined,
    };
  }
  return openDirect(configFrom(opts), out);
}

/** Runs fn with an admin session and always closes it. */
export async function withAdmin<T>(
  opts: OptionValues,
  out: Output,
  fn: (s: AdminSession) => Promise<T>,
): Promise<T> {
  const s = await openAdmin(opts, out);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
