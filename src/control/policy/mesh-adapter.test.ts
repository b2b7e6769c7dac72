import { describe, expect, it } from 'vitest';
import { deviceFixture } from '../netmap/testing.js';
import { PolicyEngine } from './compile.js';
import { policyDeviceOf, reflexiveIp } from './mesh-adapter.js';
import { mustParse, user } from './testing.js';

describe('policyDeviceOf', () => {
  it('fills the owner’s role and IdP groups from the lookup and takes the STUN address', () => {
    const mesh = deviceFixture(1, {
      endpoints: [
        { addr: '192.168.1.5:41641', type: 'local' },
        { addr: '[2001:db8::7]:41641', type: 'stun' },
      ],
      routes: { advertised: ['10.0.0.0/24', '10.1.0.0/24'], approved: ['10.0.0.0/24'] },
      isExitNode: true,
    });
    const ada = {
      ...user('ada', { role: 'admin', groups: ['ops'] }),
      id: 'u1',
      email: 'ada@example.com',
    };
    const d = policyDeviceOf(mesh, (id) => (id === 'u1' ? ada : undefined));
    expect(d).toMatchObject({
      id: 'dev1',
      owner: { type: 'user', user: ada },
      routes: ['10.0.0.0/24'],
      exitNode: true,
      publicIp: '2001:db8::7',
    });
    const e = new PolicyEngine(
      mustParse('{"acls": [{"action": "accept", "src": ["group:ops"], "dst": ["*:*"]}]}', {
        knownGroups: ['ops'],
      }),
    );
    e.upsertDevice(d);
    e.upsertDevice(policyDeviceOf(deviceFixture(2), () => undefined));
    expect(e.visible('dev1', 'dev2')).toBe(true);
  });

  it('treats an owner unknown to the lookup as a plain member, and tagged devices as tagged', () => {
    const d = policyDeviceOf(deviceFixture(3), () => undefined);
    expect(d.owner).toEqual({
      type: 'user',
      user: { id: 'u1', email: 'ada@example.com', role: 'member', groups: [] },
    });
    expect(d.publicIp).toBeNull();
    const t = policyDeviceOf(
      deviceFixture(4, { owner: { type: 'tagged', tags: ['tag:server'] } }),
      () => undefined,
    );
    expect(t.owner).toEqual({ type: 'tagged', tags: ['tag:server'] });
    expect(reflexiveIp({ endpoints: [{ addr: '198.51.100.1:9', type: 'stun' }] })).toBe(
      '198.51.100.1',
    );
  });
});
