import { expect, it } from 'vitest';
import { isUla48 } from '../../addresses.js';
import { DEFAULT_AUDIT_RETENTION_DAYS, DEFAULT_KEY_EXPIRY_DAYS } from '../../networks.js';
import { errorOf, newNetwork, unwrap } from '../fixtures.js';
import type { SuiteContext } from '../harness.js';

export function networkCases(s: SuiteContext): void {
  it('creates a network with default prefixes and settings', async () => {
    const net = unwrap(
      await s.store.networks.create({ name: 'Acme', domain: 'Acme.Trellis.Internal' }),
    );
    expect(net.id).toMatch(/^net_[a-z2-7]{26}$/);
    expect(net.domain).toBe('acme.trellis.internal');
    expect(net.ipv4Prefix).toBe('100.64.0.0/10');
    expect(isUla48(net.ipv6UlaPrefix)).toBe(true);
    expect(net.settings).toEqual({
      keyExpiryDays: DEFAULT_KEY_EXPIRY_DAYS,
      deviceApprovalRequired: false,
      dns: { magicDns: true, nameservers: [], searchDomains: [], splitDns: {}, extraRecords: [] },
      auditRetentionDays: DEFAULT_AUDIT_RETENTION_DAYS,
    });
    expect(net.createdAt.getTime()).toBe(s.clock.t);
    expect(await s.store.networks.get(net.id)).toEqual(net);
    expect(await s.store.networks.findByDomain('ACME.trellis.internal')).toEqual(net);
    expect((await s.store.networks.list()).map((n) => n.id)).toContain(net.id);
  });

  it('rejects bad domains, bad prefixes and duplicate domains', async () => {
    const net = await newNetwork(s.store);
    expect(errorOf(await s.store.networks.create({ name: 'x', domain: net.domain }))).toBe(
      'domain_taken',
    );
    for (const domain of [
      '',
      'bad_domain.example',
      '-x.example',
      'a..b',
      `${'a'.repeat(64)}.x`,
      'mesh.local',
    ]) {
      expect(errorOf(await s.store.networks.create({ name: 'x', domain }))).toBe('invalid_domain');
    }
    for (const ipv4Prefix of ['10.0.0.1/8', '10.0.0.0/31', '10.0/8', 'fd00::/48', 'nonsense']) {
      expect(
        errorOf(await s.store.networks.create({ name: 'x', domain: 'p.example', ipv4Prefix })),
      ).toBe('invalid_prefix');
    }
    for (const ipv6UlaPrefix of ['2001:db8::/48', 'fd00::/64', 'fd00::1/48']) {
      expect(
        errorOf(await s.store.networks.create({ name: 'x', domain: 'q.example', ipv6UlaPrefix })),
      ).toBe('invalid_prefix');
    }
  });

  it('round-trips settings JSON and merges partial updates', async () => {
    const net = await newNetwork(s.store, {
      settings: { keyExpiryDays: 30, dns: { nameservers: ['1.1.1.1'] } },
    });
    expect(net.settings.keyExpiryDays).toBe(30);
    expect(net.settings.dns).toEqual({
      magicDns: true,
      nameservers: ['1.1.1.1'],
      searchDomains: [],
      splitDns: {},
      extraRecords: [],
    });
    const record = { type: 'A' as const, name: 'git.corp.example', value: '100.64.0.9' };
    const updated = await s.store.networks.updateSettings(net.id, {
      deviceApprovalRequired: true,
      auditRetentionDays: 0,
      dns: {
        splitDns: { 'corp.example': ['10.0.0.53'] },
        magicDns: false,
        extraRecords: [record],
      },
    });
    expect(updated?.settings).toEqual({
      keyExpiryDays: 30,
      deviceApprovalRequired: true,
      dns: {
        magicDns: false,
        nameservers: ['1.1.1.1'],
        searchDomains: [],
        splitDns: { 'corp.example': ['10.0.0.53'] },
        extraRecords: [record],
      },
      auditRetentionDays: 0,
    });
    expect((await s.store.networks.get(net.id))?.settings).toEqual(updated?.settings);
    expect(await s.store.networks.updateSettings('net_missing', {})).toBeNull();
  });

  it('reads settings an older version wrote with the newer fields defaulted', async () => {
    const net = await newNetwork(s.store);
    const old = { keyExpiryDays: 30, deviceApprovalRequired: false, dns: { magicDns: false } };
    await s.store.db
      .updateTable('networks')
      .set({ settings: JSON.stringify(old) })
      .where('id', '=', net.id)
      .execute();
    expect((await s.store.networks.get(net.id))?.settings).toEqual({
      ...old,
      dns: { magicDns: false, nameservers: [], searchDomains: [], splitDns: {}, extraRecords: [] },
      auditRetentionDays: DEFAULT_AUDIT_RETENTION_DAYS,
    });
  });

  it('renames a network', async () => {
    const net = await newNetwork(s.store);
    s.clock.advance(1000);
    const renamed = await s.store.networks.rename(net.id, 'Renamed');
    expect(renamed?.name).toBe('Renamed');
    expect(renamed?.updatedAt.getTime()).toBe(s.clock.t);
    expect(await s.store.networks.rename('net_missing', 'x')).toBeNull();
  });
}
