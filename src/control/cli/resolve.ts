/**
 * Commands name things the way people do (a user by email, a device by name) or by id; these
 * turn such a reference into the record, through the same admin API in both modes.
 */
import {
  MAX_PAGE_SIZE,
  type AdminDevice,
  type AdminUser,
} from '../../shared/schema/control/admin.js';
import type { AdminApi } from '../admin/service.js';
import { CliError } from './command.js';

/** Every item of a paged list. */
export async function listAll<T>(
  fetchPage: (q: {
    limit: number;
    cursor?: string;
  }) => Promise<{ items: T[]; nextCursor: string | null }>,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: T[]; nextCursor: string | null } = await fetchPage({
      limit: MAX_PAGE_SIZE,
      ...(cursor ? { cursor } : {}),
    });
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/** A user by id ("usr_...") or email. */
export async function resolveUser(api: AdminApi, ref: string): Promise<AdminUser> {
  if (/^usr_[a-z2-7]+$/.test(ref)) return api.getUser(ref);
  const email = ref.trim().toLowerCase();
  const user = (await listAll((q) => api.listUsers(q))).find((u) => u.email === email);
  if (!user) throw new CliError(`no user with email ${ref}`);
  return user;
}

/** A device by id ("dev_...") or name. */
export async function resolveDevice(api: AdminApi, ref: string): Promise<AdminDevice> {
  if (/^dev_[a-z2-7]+$/.test(ref)) return api.getDevice(ref);
  const name = ref.trim().toLowerCase();
  const device = (await listAll((q) => api.listDevices(q))).find((d) => d.name === name);
  if (!device) throw new CliError(`no device named ${ref}`);
  return device;
}
