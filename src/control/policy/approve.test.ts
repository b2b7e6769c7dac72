import { describe, expect, it } from 'vitest';
import { autoApprove, mayApplyTag } from './approve.js';
import { mustParse, user } from './testing.js';

const policy = mustParse(`{
  "groups": { "group:net": ["nina@x.com"], "group:backend": [] },
  "tagOwners": { "tag:router": ["group:net"], "tag:exit": ["autogroup:admin"], "tag:ci": ["autogroup:member"] },
  "autoApprovers": {
    "routes": {
      "10.0.0.0/8": ["tag:router", "group:net"],
      "192.168.0.0/16": ["group:backend"],
      "fd00::/8": ["autogroup:admin"],
    },
    "exitNode": ["tag:exit", "ops@x.com"],
  },
}`);

describe('autoApprove', () => {
  it.each([
    {
      name: 'tagged router: routes inside an approved prefix',
      owner: { type: 'tagged' as const, tags: ['tag:router'] },
      adv: { routes: ['10.1.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '0.0.0.0/0'], exitNode: true },
      want: { routes: ['10.1.0.0/16', '10.0.0.0/8'], exitNode: false },
    },
    {
      name: 'group member by email',
      owner: { type: 'user' as const, user: user('nina') },
      adv: { routes: ['10.9.9.0/24'], exitNode: false },
      want: { routes: ['10.9.9.0/24'], exitNode: false },
    },
    {
      name: 'IdP group member',
      owner: { type: 'user' as const, user: user('ivan', { groups: ['backend'] }) },
      adv: { routes: ['192.168.1.0/24', '10.0.0.0/24'], exitNode: false },
      want: { routes: ['192.168.1.0/24'], exitNode: false },
    },
    {
      name: 'admin role via autogroup:admin (IPv6)',
      owner: { type: 'user' as const, user: user('adam', { role: 'admin' }) },
      adv: { routes: ['fd00:1::/32'], exitNode: false },
      want: { routes: ['fd00:1::/32'], exitNode: false },
    },
    {
      name: 'a wider route than the approved prefix is not approved',
      owner: { type: 'tagged' as const, tags: ['tag:router'] },
      adv: { routes: ['10.0.0.0/7'], exitNode: false },
      want: { routes: [], exitNode: false },
    },
    {
      name: 'exit node by tag',
      owner: { type: 'tagged' as const, tags: ['tag:exit'] },
      adv: { routes: [], exitNode: true },
      want: { routes: [], exitNode: true },
    },
    {
      name: 'exit node by user',
      owner: { type: 'user' as const, user: user('ops') },
      adv: { routes: [], exitNode: true },
      want: { routes: [], exitNode: true },
    },
    {
      name: 'nobody else',
      owner: { type: 'user' as const, user: user('zed') },
      adv: { routes: ['10.0.0.0/24'], exitNode: true },
      want: { routes: [], exitNode: false },
    },
  ])('$name', ({ owner, adv, want }) => {
    expect(autoApprove(policy, owner, adv)).toEqual(want);
  });
});

describe('mayApplyTag', () => {
  it('follows tagOwners; admins may apply any declared tag; undeclared tags do not exist', () => {
    expect(mayApplyTag(policy, user('nina'), 'tag:router')).toBe(true);
    expect(mayApplyTag(policy, user('zed'), 'tag:router')).toBe(false);
    expect(mayApplyTag(policy, user('zed'), 'tag:ci')).toBe(true);
    expect(mayApplyTag(policy, user('adam', { role: 'admin' }), 'tag:router')).toBe(true);
    expect(mayApplyTag(policy, user('owen', { role: 'owner' }), 'tag:nope')).toBe(false);
  });
});
