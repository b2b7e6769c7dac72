/**
 * The kernel WireGuard module is not present on the build machines, so the kernel backend's
 * command generation and the backend selection are tested here with a fake exec; every test name
 * says so. The wireguard-go backend is tested for real in e2e/wireguard.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, keyToBase64 } from '../../shared/keys.js';
import { ExecError, type Exec, type ExecOptions } from '../exec.js';
import { chooseBackend, detectKernelWireGuard, KERNEL_MODULE_PATH } from './choose.js';
import type { WgConfigDiff } from './diff.js';
import { KernelWireGuardBackend, wgCommandsForDiff } from './kernel.js';
import type { WgInterfaceConfig } from './types.js';
import { parseWgDump } from './wg-dump.js';

const priv = keyToBase64(generateKeyPair().privateKey);
const pub = keyToBase64(generateKeyPair().publicKey);
const peerA = keyToBase64(generateKeyPair().publicKey);
const peerB = keyToBase64(generateKeyPair().publicKey);

interface Call {
  command: string;
  args: string[];
  input?: string;
}

/** Records calls; `respond` decides the outcome of each (default: success, empty output). */
function fakeExec(respond: (c: Call) => string | Error = () => '') {
  const calls: Call[] = [];
  const exec: Exec = async (command, args, options?: ExecOptions) => {
    const call: Call = {
      command,
      args: [...args],
      ...(options?.input !== undefined ? { input: options.input } : {}),
    };
    calls.push(call);
    const r = respond(call);
    if (r instanceof Error) throw r;
    return { stdout: r, stderr: '' };
  };
  return { exec, calls };
}

const notFound = (args: string[], name: string) =>
  new ExecError('exit_status', 'ip', args, 1, null, `Device "${name}" does not exist.`);

describe('wgCommandsForDiff (kernel module absent here: command generation only)', () => {
  it('first apply is one `wg setconf` with the whole config, private key on stdin only', () => {
    const diff: WgConfigDiff = {
      replacePeers: true,
      privateKey: priv,
      listenPort: 51820,
      fwmark: 0,
      peers: [
        {
          kind: 'add',
          publicKey: peerA,
          endpoint: '10.99.0.2:51820',
          allowedIps: ['100.64.0.2/32', 'fd7a::2/128'],
          persistentKeepalive: 25,
        },
        { kind: 'add', publicKey: peerB, endpoint: null, allowedIps: [], persistentKeepalive: 0 },
      ],
    };
    const cmds = wgCommandsForDiff('trellis0', diff);
    expect(cmds).toHaveLength(1);
    expect(cmds[0]?.args).toEqual(['setconf', 'trellis0', '/dev/stdin']);
    expect(cmds[0]?.input).toBe(
      [
        '[Interface]',
        `PrivateKey = ${priv}`,
        'ListenPort = 51820',
        'FwMark = 0',
        '',
        '[Peer]',
        `PublicKey = ${peerA}`,
        'Endpoint = 10.99.0.2:51820',
        'AllowedIPs = 100.64.0.2/32, fd7a::2/128',
        'PersistentKeepalive = 25',
        '',
        '[Peer]',
        `PublicKey = ${peerB}`,
        '',
      ].join('\n'),
    );
  });

  it('a later diff is one `wg set` with only what changed', () => {
    const cmds = wgCommandsForDiff('trellis0', {
      replacePeers: false,
      listenPort: 41641,
      peers: [
        { kind: 'remove', publicKey: peerB },
        {
          kind: 'add',
          publicKey: pub,
          endpoint: null,
          allowedIps: ['100.64.0.4/32'],
          persistentKeepalive: 0,
        },
        { kind: 'update', publicKey: peerA, persistentKeepalive: 0, allowedIps: [] },
      ],
    });
    expect(cmds).toEqual([
      {
        args: [
          'set',
          'trellis0',
          'listen-port',
          '41641',
          'peer',
          peerB,
          'remove',
          'peer',
          pub,
          'allowed-ips',
          '100.64.0.4/32',
          'peer',
          peerA,
          'persistent-keepalive',
          '0',
          'allowed-ips',
          '',
        ],
      },
    ]);
  });

  it('a new private key goes through stdin; an empty diff runs nothing', () => {
    const [cmd] = wgCommandsForDiff('trellis0', {
      replacePeers: false,
      privateKey: priv,
      peers: [],
    });
    expect(cmd?.args).toEqual(['set', 'trellis0', 'private-key', '/dev/stdin']);
    expect(cmd?.input).toBe(`${priv}\n`);
    expect(cmd?.args.join(' ')).not.toContain(priv);
    expect(wgCommandsForDiff('trellis0', { replacePeers: false, peers: [] })).toEqual([]);
  });
});

const DUMP = [
  [priv, pub, '51820', 'off'].join('\t'),
  [
    peerA,
    '(none)',
    '10.99.0.2:51820',
    '100.64.0.2/32,fd7a::2/128',
    '1764032251',
    '1036',
    '1184',
    '25',
  ].join('\t'),
  [peerB, '(none)', '(none)', '(none)', '0', '0', '0', 'off'].join('\t'),
  '',
].join('\n');

describe('parseWgDump (kernel module absent here: parser of `wg show dump` text)', () => {
  it('reads interface and peers, dropping the private key', () => {
    const r = parseWgDump(DUMP);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.privateKey).toBeNull();
    expect(r.value.listenPort).toBe(51820);
    expect(r.value.fwmark).toBe(0);
    expect(r.value.peers).toEqual([
      {
        publicKey: peerA,
        endpoint: '10.99.0.2:51820',
        allowedIps: ['100.64.0.2/32', 'fd7a::2/128'],
        persistentKeepalive: 25,
        lastHandshake: new Date(1764032251 * 1000),
        rxBytes: 1036,
        txBytes: 1184,
      },
      {
        publicKey: peerB,
        endpoint: null,
        allowedIps: [],
        persistentKeepalive: 0,
        lastHandshake: null,
        rxBytes: 0,
        txBytes: 0,
      },
    ]);
  });

  it('rejects malformed dumps with typed errors', () => {
    expect(parseWgDump('').ok).toBe(false);
    expect(parseWgDump('a\tb\n').ok).toBe(false);
    expect(parseWgDump(DUMP.replace('51820\toff', '99999\toff')).ok).toBe(false);
    expect(parseWgDump(DUMP.replace('1036', '-1')).ok).toBe(false);
  });

  it('never throws on random or mutated input', () => {
    const codes = ['too_large', 'malformed', 'bad_value'];
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.nat(),
        fc.string({ maxLength: 20 }),
        (s, at, ins) => {
          for (const text of [
            s,
            DUMP.slice(0, at % DUMP.length) + ins + DUMP.slice(at % DUMP.length),
          ]) {
            const r = parseWgDump(text);
            if (!r.ok) expect(codes).toContain(r.error.code);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

const config = (over: Partial<WgInterfaceConfig> = {}): WgInterfaceConfig => ({
  privateKey: priv,
  listenPort: 0,
  fwmark: 0,
  peers: [
    {
      publicKey: peerA,
      endpoint: '10.99.0.2:51820',
      allowedIps: ['100.64.0.2/32'],
      persistentKeepalive: 0,
    },
  ],
  ...over,
});

describe('KernelWireGuardBackend (kernel module absent here: fake exec)', () => {
  it('creates the link, applies first with setconf then with set, reads stats, deletes on close', async () => {
    let exists = false;
    const { exec, calls } = fakeExec((c) => {
      if (c.command === 'ip' && c.args.includes('show')) {
        return exists
          ? JSON.stringify([
              {
                ifindex: 9,
                ifname: 'wg9',
                mtu: 1420,
                flags: [],
                linkinfo: { info_kind: 'wireguard' },
              },
            ])
          : notFound(c.args, 'wg9');
      }
      if (c.command === 'ip' && c.args.includes('add')) exists = true;
      if (c.command === 'wg' && c.args[0] === 'show') return DUMP;
      return '';
    });
    const dev = await new KernelWireGuardBackend({ exec }).create('wg9', { mtu: 1380 });
    await dev.apply(config());
    await dev.apply(config());
    await dev.apply(config({ listenPort: 41641 }));
    const stats = await dev.stats();
    await dev.close();
    await dev.close();
    expect(calls.map((c) => `${c.command} ${c.args.join(' ')}`)).toEqual([
      'ip -json -details link show dev wg9',
      'ip link add dev wg9 type wireguard',
      'ip link set dev wg9 mtu 1380',
      'wg setconf wg9 /dev/stdin',
      'wg set wg9 listen-port 41641',
      'wg show wg9 dump',
      'ip link del dev wg9',
    ]);
    expect(calls[3]?.input).toContain(`PrivateKey = ${priv}`);
    expect(stats.peers.map((p) => p.publicKey)).toEqual([peerA, peerB]);
    await expect(dev.apply(config())).rejects.toMatchObject({ code: 'closed' });
  });

  it('adopts an existing WireGuard link, refuses a foreign one, and runs wg inside the namespace', async () => {
    const existing = fakeExec((c) =>
      c.args.includes('show')
        ? JSON.stringify([
            {
              ifindex: 9,
              ifname: 'wg9',
              mtu: 1420,
              flags: ['UP'],
              linkinfo: { info_kind: 'wireguard' },
            },
          ])
        : '',
    );
    const dev = await new KernelWireGuardBackend({ exec: existing.exec, netns: 'tlabcdx' }).create(
      'wg9',
      { mtu: 1420 },
    );
    await dev.apply(config());
    const lines = existing.calls.map((c) => `${c.command} ${c.args.join(' ')}`);
    expect(lines).not.toContain('ip -n tlabcdx link add dev wg9 type wireguard');
    expect(lines).toContain('ip netns exec tlabcdx wg setconf wg9 /dev/stdin');

    const foreign = fakeExec((c) =>
      c.args.includes('show')
        ? JSON.stringify([
            { ifindex: 9, ifname: 'wg9', mtu: 1500, flags: [], linkinfo: { info_kind: 'veth' } },
          ])
        : '',
    );
    await expect(
      new KernelWireGuardBackend({ exec: foreign.exec }).create('wg9', { mtu: 1420 }),
    ).rejects.toMatchObject({
      code: 'create_failed',
    });
  });

  it('a failed wg command makes the next apply a full one', async () => {
    let failSet = true;
    const { exec, calls } = fakeExec((c) => {
      if (c.args.includes('show')) return notFound(c.args, 'wg9');
      if (c.command === 'wg' && c.args[0] === 'set' && failSet) {
        failSet = false;
        return new ExecError('exit_status', 'wg', c.args, 1, null, 'Unable to modify interface');
      }
      return '';
    });
    const dev = await new KernelWireGuardBackend({ exec }).create('wg9', { mtu: 1420 });
    await dev.apply(config());
    await expect(dev.apply(config({ listenPort: 5 }))).rejects.toMatchObject({
      code: 'command_failed',
    });
    await dev.apply(config({ listenPort: 5 }));
    expect(calls.filter((c) => c.command === 'wg').map((c) => c.args[0])).toEqual([
      'setconf',
      'set',
      'setconf',
    ]);
  });
});

describe('chooseBackend (kernel module absent here: selection logic with a fake exec)', () => {
  it('picks the kernel when the module is loaded, without probing', async () => {
    const { exec, calls } = fakeExec();
    const backend = await chooseBackend({ exec, pathExists: (p) => p === KERNEL_MODULE_PATH });
    expect(backend.kind).toBe('kernel');
    expect(calls).toEqual([]);
  });

  it('picks the kernel when a throwaway wireguard link can be created, and deletes it', async () => {
    const { exec, calls } = fakeExec();
    expect(await detectKernelWireGuard({ exec, pathExists: () => false })).toBe('probe_succeeded');
    const [add, del] = calls;
    expect(add?.args.slice(0, 3)).toEqual(['link', 'add', 'dev']);
    expect(add?.args.slice(4)).toEqual(['type', 'wireguard']);
    const probe = add?.args[3] ?? '';
    expect(probe).toMatch(/^trlprobe[0-9a-f]{6}$/);
    expect(del?.args).toEqual(['link', 'del', 'dev', probe]);
    const backend = await chooseBackend({ exec, pathExists: () => false });
    expect(backend.kind).toBe('kernel');
  });

  it('falls back to wireguard-go when the probe fails', async () => {
    const { exec, calls } = fakeExec(
      (c) =>
        new ExecError('exit_status', c.command, c.args, 2, null, 'Error: Unknown device type.'),
    );
    const backend = await chooseBackend({ exec, pathExists: () => false, netns: 'tlabcdy' });
    expect(backend.kind).toBe('wireguard-go');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args.slice(0, 2)).toEqual(['-n', 'tlabcdy']);
  });
});
