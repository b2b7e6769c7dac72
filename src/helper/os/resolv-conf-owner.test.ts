/**
 * The resolv.conf ownership check on /proc text captured on a Linux 6.18 VM where root cannot
 * read /proc/1/ns/* (EACCES): the initial namespace's mountinfo, and that of a program run with
 * `ip netns exec tiprobe20619` without and with /etc/netns/tiprobe20619/resolv.conf.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  INITIAL_NETNS_LINK,
  netnsIdentity,
  parseMountinfo,
  resolvConfOwner,
  topMountAt,
  type ProcReader,
} from './resolv-conf-owner.js';

const HOST_MOUNTINFO = `22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k,nr_inodes=3083608,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
`;

/** `ip netns exec tiprobe20619` without /etc/netns/tiprobe20619/resolv.conf. */
const NETNS_MOUNTINFO_NO_FILE = `45 44 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
47 45 0:21 / /proc rw,relatime - proc proc rw
60 45 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334432k,nr_inodes=3083608,mode=755
61 60 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683656k
63 60 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
65 45 254:0 /run/netns /run/netns rw,relatime master:1 - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
66 65 0:4 net:[4026532177] /run/netns/tiprobe20619 rw master:2 - nsfs nsfs rw
48 45 0:39 / /sys rw,relatime - sysfs tiprobe20619 rw
`;

/** The same with the file: `ip netns exec` bind-mounted it over /etc/resolv.conf. */
const RESOLV_BIND =
  '49 45 254:0 /etc/netns/tiprobe20619/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534\n';
const NETNS_MOUNTINFO_WITH_FILE = NETNS_MOUNTINFO_NO_FILE + RESOLV_BIND;

const NETNS_LINK = 'net:[4026532177]';
const OWN_FILE = '/etc/netns/tiprobe20619/resolv.conf';

interface Facts {
  self?: string | null;
  init?: string | null;
  mountinfo?: string | null;
  ids?: Record<string, string>;
  realpaths?: Record<string, string>;
}

function proc(f: Facts): ProcReader & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    readlink: async (file) => {
      reads.push(file);
      if (file === '/proc/self/ns/net') return f.self === undefined ? NETNS_LINK : f.self;
      if (file === '/proc/1/ns/net') return f.init ?? null;
      return null;
    },
    readText: async (file) => {
      reads.push(file);
      return file === '/proc/self/mountinfo' ? (f.mountinfo ?? null) : null;
    },
    fileId: async (file) => f.ids?.[file] ?? null,
    realpath: async (file) => f.realpaths?.[file] ?? file,
  };
}

/** Inside `ip netns exec` with the namespace's own file, as captured (same dev:ino for both). */
const provenFacts: Facts = {
  mountinfo: NETNS_MOUNTINFO_WITH_FILE,
  ids: { '/etc/resolv.conf': '65024:1540098', [OWN_FILE]: '65024:1540098' },
};

describe('netnsIdentity', () => {
  it('is initial when /proc/self/ns/net equals pid 1’s', async () => {
    const p = proc({ self: 'net:[4026531992]', init: 'net:[4026531992]' });
    expect(await netnsIdentity(p)).toEqual({ kind: 'initial' });
  });

  it('is another namespace when pid 1’s differs, even if it looks like the fixed initial inode', async () => {
    expect(await netnsIdentity(proc({ self: NETNS_LINK, init: 'net:[4026531992]' }))).toEqual({
      kind: 'other',
      link: NETNS_LINK,
      initialUnknown: false,
    });
    expect(
      await netnsIdentity(proc({ self: INITIAL_NETNS_LINK, init: 'net:[4026531992]' })),
    ).toMatchObject({ kind: 'other' });
  });

  it('without pid 1’s link, knows the initial namespace by its fixed inode (as captured here)', async () => {
    expect(INITIAL_NETNS_LINK).toBe('net:[4026531833]');
    expect(await netnsIdentity(proc({ self: 'net:[4026531833]', init: null }))).toEqual({
      kind: 'initial',
    });
    expect(await netnsIdentity(proc({ self: NETNS_LINK, init: null }))).toEqual({
      kind: 'other',
      link: NETNS_LINK,
      initialUnknown: true,
    });
  });

  it('is unknown when its own link is unreadable or not a network namespace', async () => {
    expect(await netnsIdentity(proc({ self: null }))).toMatchObject({ kind: 'unknown' });
    expect(await netnsIdentity(proc({ self: 'mnt:[4026531832]' }))).toMatchObject({
      kind: 'unknown',
    });
  });
});

describe('resolvConfOwner', () => {
  it('in the initial namespace the file is the system’s, without looking at mounts', async () => {
    const p = proc({ self: INITIAL_NETNS_LINK, init: null, mountinfo: HOST_MOUNTINFO });
    expect(await resolvConfOwner(p)).toEqual({ kind: 'initial' });
    expect(p.reads).not.toContain('/proc/self/mountinfo');
  });

  it('refuses inside `ip netns exec` without the namespace’s own file (the captured case)', async () => {
    const owner = await resolvConfOwner(proc({ mountinfo: NETNS_MOUNTINFO_NO_FILE }));
    expect(owner.kind).toBe('refused');
    if (owner.kind !== 'refused') return;
    expect(owner.reason).toContain(NETNS_LINK);
    expect(owner.reason).toContain('/proc/1/ns/net is unreadable');
    expect(owner.reason).toContain(`create ${OWN_FILE} before \`ip netns exec tiprobe20619\``);
    expect(owner.reason).toContain("/etc/resolv.conf may be the host's");
  });

  it('accepts the bind mount of /etc/netns/NAME/resolv.conf when both paths are one file', async () => {
    expect(await resolvConfOwner(proc(provenFacts))).toEqual({
      kind: 'netns',
      name: 'tiprobe20619',
    });
    // Also when pid 1's link is readable and differs.
    expect(await resolvConfOwner(proc({ ...provenFacts, init: 'net:[4026531992]' }))).toEqual({
      kind: 'netns',
      name: 'tiprobe20619',
    });
  });

  it('refuses when the mounted file is not the namespace’s own one', async () => {
    const ids = { '/etc/resolv.conf': '65024:1540098', [OWN_FILE]: '65024:1540099' };
    const other = await resolvConfOwner(proc({ ...provenFacts, ids }));
    expect(other).toMatchObject({ kind: 'refused' });
    if (other.kind === 'refused') expect(other.reason).toContain('is not the same file as');
    // The namespace file is gone (cannot be stat'ed).
    const gone = { '/etc/resolv.conf': '65024:1540098' };
    expect(await resolvConfOwner(proc({ ...provenFacts, ids: gone }))).toMatchObject({
      kind: 'refused',
    });
  });

  it('refuses another namespace’s file, and a container-style mount from elsewhere', async () => {
    for (const root of ['/etc/netns/someone-else/resolv.conf', '/var/lib/docker/c1/resolv.conf']) {
      const mountinfo = NETNS_MOUNTINFO_WITH_FILE.replace(OWN_FILE, root);
      const owner = await resolvConfOwner(proc({ ...provenFacts, mountinfo }));
      expect(owner, root).toMatchObject({ kind: 'refused' });
      if (owner.kind === 'refused') expect(owner.reason).toContain('is not a bind mount of');
    }
  });

  it('judges the mount on top when several are stacked on /etc/resolv.conf', async () => {
    const over =
      '70 49 254:0 /var/lib/docker/c1/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda rw\n';
    const covered = await resolvConfOwner(
      proc({ ...provenFacts, mountinfo: NETNS_MOUNTINFO_WITH_FILE + over }),
    );
    expect(covered).toMatchObject({ kind: 'refused' });
    const under = '40 45 254:0 /var/lib/docker/c1/resolv.conf /etc/resolv.conf rw - ext4 x rw\n';
    const onTop = NETNS_MOUNTINFO_NO_FILE + under + RESOLV_BIND.replace('49 45', '49 40');
    expect(await resolvConfOwner(proc({ ...provenFacts, mountinfo: onTop }))).toEqual({
      kind: 'netns',
      name: 'tiprobe20619',
    });
  });

  it('refuses a namespace with no name (unshare -n: the host’s mounts, no nsfs entry)', async () => {
    const owner = await resolvConfOwner(proc({ mountinfo: HOST_MOUNTINFO }));
    expect(owner).toMatchObject({ kind: 'refused' });
    if (owner.kind === 'refused') expect(owner.reason).toContain('has no name in /run/netns');
  });

  it('refuses when it cannot tell: own link or mountinfo unreadable', async () => {
    const blind = await resolvConfOwner(proc({ ...provenFacts, self: null }));
    expect(blind).toMatchObject({ kind: 'refused' });
    if (blind.kind === 'refused') {
      expect(blind.reason).toContain('cannot tell which network namespace this process is in');
    }
    expect(await resolvConfOwner(proc({ ...provenFacts, mountinfo: null }))).toMatchObject({
      kind: 'refused',
    });
  });

  it('follows a symlinked /etc/resolv.conf to where the bind mount sits', async () => {
    const stub = '/run/systemd/resolve/stub-resolv.conf';
    const mountinfo =
      NETNS_MOUNTINFO_NO_FILE + RESOLV_BIND.replace(' /etc/resolv.conf ', ` ${stub} `);
    const facts = { ...provenFacts, mountinfo, realpaths: { '/etc/resolv.conf': stub } };
    expect(await resolvConfOwner(proc(facts))).toEqual({ kind: 'netns', name: 'tiprobe20619' });
    // Without following it, the mount would not be found.
    expect(await resolvConfOwner(proc({ ...facts, realpaths: {} }))).toMatchObject({
      kind: 'refused',
    });
  });
});

describe('parseMountinfo', () => {
  it('reads the captured lines, optional fields and escapes included', () => {
    const mounts = parseMountinfo(NETNS_MOUNTINFO_WITH_FILE);
    expect(mounts).toHaveLength(9);
    expect(mounts.find((m) => m.fsType === 'nsfs')).toEqual({
      id: 66,
      parent: 65,
      root: NETNS_LINK,
      mountPoint: '/run/netns/tiprobe20619',
      fsType: 'nsfs',
    });
    expect(topMountAt(mounts, '/etc/resolv.conf')?.root).toBe(OWN_FILE);
    const [spaced] = parseMountinfo('90 27 0:50 /a\\040b /mnt/x\\134y rw - tmpfs t rw');
    expect(spaced).toMatchObject({ root: '/a b', mountPoint: '/mnt/x\\y', fsType: 'tmpfs' });
  });

  it('skips malformed lines and never throws', () => {
    expect(parseMountinfo('garbage\n1 2 3\nx y 0:1 / / rw - ext4 a rw\n')).toEqual([]);
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const mounts = parseMountinfo(text);
        return Array.isArray(mounts) && mounts.every((m) => Number.isSafeInteger(m.id));
      }),
    );
  });
});
