/**
 * Small builders for the shared suite: every test makes its own network, so tests sharing one
 * database never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import type { Result } from '../../../shared/result.js';
import type { CreateNetworkInput, Network } from '../networks.js';
import type { Store, StoreTx } from '../store.js';
import type { Role, User } from '../users.js';

export function unwrap<T, E>(r: Result<T, E>): T {
  if (!r.ok) throw new Error(`expected ok, got error ${JSON.stringify(r.error)}`);
  return r.value;
}

export function errorOf<T, E>(r: Result<T, E>): E {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

const uniq = (): string => randomBytes(4).toString('hex');

export async function newNetwork(
  store: Store | StoreTx,
  input: Partial<CreateNetworkInput> = {},
): Promise<Network> {
  return unwrap(
    await store.networks.create({
      name: 'Test network',
      domain: `n${uniq()}.trellis.internal`,
      ...input,
    }),
  );
}

export async function newUser(
  store: Store | StoreTx,
  networkId: string,
  role: Role = 'member',
): Promise<User> {
  return unwrap(
    await store.users.createLocal({
      networkId,
      email: `u${uniq()}@example.com`,
      role,
      passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    }),
  );
}

/** A node key in the helper's format does not matter to the store: any unique text. */
export const nodeKey = (): string => `nodekey:${randomBytes(32).toString('hex')}`;
