/**
 * Failure paths of the wireguard-go backend that need neither root nor wireguard-go (a fake
 * `ip`, stand-in programs). The real device is exercised in e2e/wireguard.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ExecError, type Exec } from '../exec.js';
import { WgError } from './types.js';
import { WireGuardGoBackend } from './wireguard-go.js';

/** `ip` that knows no interfaces, or one foreign one. */
function fakeIp(existing?: { name: string; kind: string }): Exec {
  return async (_command, args) => {
    const name = args[args.indexOf('dev') + 1] ?? '';
    if (args.includes('show')) {
      if (existing && existing.name === name) {
        return {
          stdout: JSON.stringify([
            {
              ifindex: 3,
              ifname: name,
              mtu: 1500,
              flags: [],
              linkinfo: { info_kind: existing.kind },
            },
          ]),
          stderr: '',
        };
      }
      throw new ExecError('exit_status', 'ip', args, 1, null, `Device "${name}" does not exist.`);
    }
    return { stdout: '', stderr: '' };
  };
}

async function createError(
  backend: WireGuardGoBackend,
  name: string,
  mtu = 1420,
): Promise<WgError> {
  const e = await backend.create(name, { mtu }).catch((x: unknown) => x);
  if (!(e instanceof WgError)) throw new Error(`expected a WgError, got ${String(e)}`);
  return e;
}

describe('WireGuardGoBackend failure paths', () => {
  it('rejects bad names, MTUs and namespace names before touching the system', async () => {
    const backend = new WireGuardGoBackend({ exec: fakeIp() });
    expect((await createError(backend, 'x'.repeat(16))).code).toBe('create_failed');
    expect((await createError(backend, 'a/b')).code).toBe('create_failed');
    expect((await createError(backend, 'tlwgunit0', 1000)).code).toBe('bad_config');
    expect(() => new WireGuardGoBackend({ netns: '-bad' })).toThrow(WgError);
  });

  it('says what to install when wireguard-go is missing', async () => {
    const backend = new WireGuardGoBackend({ exec: fakeIp(), binary: '/nonexistent/wireguard-go' });
    const e = await createError(backend, 'tlwgunit1');
    expect(e.code).toBe('create_failed');
    expect(e.message).toContain('install the wireguard-go package');
  });

  it('reports a process that exits while starting, with its output', async () => {
    const backend = new WireGuardGoBackend({ exec: fakeIp(), binary: 'false' });
    const e = await createError(backend, 'tlwgunit2');
    expect(e.code).toBe('create_failed');
    expect(e.message).toMatch(/exited \(status 1\) while starting/);
  });

  it('refuses to replace an interface of the same name that is not WireGuard', async () => {
    const backend = new WireGuardGoBackend({ exec: fakeIp({ name: 'tlwgunit3', kind: 'veth' }) });
    const e = await createError(backend, 'tlwgunit3');
    expect(e.code).toBe('create_failed');
    expect(e.message).toContain('not a WireGuard device (veth)');
  });
});
