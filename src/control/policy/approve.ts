/**
 * autoApprovers: which of a device's advertised subnet routes and exit node policy approves
 * without an admin. A route is approved when an autoApprovers entry's prefix contains it whole
 * and names the device (its owner by email, group or autogroup, or one of its tags). Anything
 * not approved here stays pending for an admin. Also: who may apply a tag (tagOwners).
 */
import type { Policy } from './document.js';
import { identityMatches, subjectOf, type PolicyOwner, type PolicyUser } from './match.js';
import { containsPrefix, parsePrefixText } from './prefix.js';
import type { Selector } from './selector.js';

export interface Advertisement {
  /** Advertised subnet routes (canonical CIDRs, as HostInfo carries them). */
  readonly routes: readonly string[];
  readonly exitNode: boolean;
}

export interface AutoApproval {
  /** Advertised routes policy approves (a subset of the advertisement, in its order). */
  readonly routes: readonly string[];
  readonly exitNode: boolean;
}

export function autoApprove(
  policy: Pick<Policy, 'autoApprovers' | 'groups'>,
  owner: PolicyOwner,
  advertised: Advertisement,
): AutoApproval {
  const subject = subjectOf(policy, owner, [], [], false);
  const names = (list: readonly Selector[]): boolean =>
    list.some((s) => identityMatches(s, subject));
  const routes = advertised.routes.filter((text) => {
    const r = parsePrefixText(text);
    if (!r.ok) return false;
    return policy.autoApprovers.routes.some(
      (a) => containsPrefix(a.prefix, r.value) && names(a.approvers),
    );
  });
  return { routes, exitNode: advertised.exitNode && names(policy.autoApprovers.exitNode) };
}

/**
 * May `user` apply `tag` to a device (pre-auth keys, tagging in the admin API)? Only tags declared
 * in tagOwners exist; network owners and admins may apply any of them, others when listed.
 */
export function mayApplyTag(
  policy: Pick<Policy, 'tagOwners' | 'groups'>,
  user: PolicyUser,
  tag: string,
): boolean {
  const owners = policy.tagOwners.get(tag);
  if (!owners) return false;
  if (user.role === 'owner' || user.role === 'admin') return true;
  const subject = subjectOf(policy, { type: 'user', user }, [], [], false);
  return owners.some((s) => identityMatches(s, subject));
}
