/**
 * First run: the embedded default needs a network and an owner to sign in with. Creates both
 * when the store is empty and returns the owner's one-time password for the operator.
 */
import crypto from 'node:crypto';
import type { ControlConfig } from './config.js';
import { hashPassword } from './auth/passwords.js';
import type { Store } from './store/index.js';
import type { Network } from './store/networks.js';

export interface BootstrapResult {
  readonly network: Network;
  /** Present only on the run that created the owner. */
  readonly owner?: { email: string; password: string };
}

/** The owner's address until they change it; `admin@<network domain>` reads as what it is. */
const ownerEmail = (domain: string): string => `admin@${domain}`;

export async function bootstrap(store: Store, config: ControlConfig): Promise<BootstrapResult> {
  const networks = await store.networks.list();
  let network = networks[0];
  if (!network) {
    const created = await store.networks.create({
      name: config.network.name,
      domain: config.network.domain,
    });
    if (!created.ok) {
      // Lost a race with another replica starting at the same time.
      const again = await store.networks.findByDomain(config.network.domain);
      if (!again) throw new Error(`cannot create the default network: ${created.error}`);
      network = again;
    } else {
      network = created.value;
    }
  }
  if ((await store.users.list(network.id)).length > 0) return { network };
  // 18 random bytes → 24 base64url characters: ~144 bits, typed once from the terminal.
  const password = crypto.randomBytes(18).toString('base64url');
  const email = ownerEmail(network.domain);
  const user = await store.users.createLocal({
    networkId: network.id,
    email,
    displayName: 'Owner',
    role: 'owner',
    passwordHash: await hashPassword(password),
  });
  if (!user.ok) return { network };
  await store.audit.append({
    networkId: network.id,
    actor: { type: 'system', id: null },
    action: 'user.created',
    target: { type: 'user', id: user.value.id },
    diff: { email, role: 'owner', reason: 'first run' },
  });
  return { network, owner: { email, password } };
}
