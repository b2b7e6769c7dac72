import { describe, expect, it } from 'vitest';
import { unavailableConnection } from './helper-errors.js';

const notRunning = { code: 'daemon_not_running', message: 'ENOENT' } as const;
const denied = { code: 'permission_denied', message: 'EACCES' } as const;

describe('helper-unavailable hints per OS', () => {
  it('names the socket and the way each OS starts the service', () => {
    const hint = (platform: NodeJS.Platform, path: string) => {
      const c = unavailableConnection(notRunning, path, platform);
      return c?.reason === 'not-running' ? c.hint : null;
    };
    expect(hint('linux', '/run/trellis/trellisd.sock')).toMatch(
      /on \/run\/trellis\/trellisd\.sock\).*systemctl start trellisd/,
    );
    expect(hint('darwin', '/var/run/trellis/trellisd.sock')).toMatch(
      /on \/var\/run\/trellis\/trellisd\.sock\).*launchctl kickstart -k system\/com\.trellis\.trellisd/,
    );
    const win = hint('win32', '\\\\.\\pipe\\trellisd');
    expect(win).toMatch(/sc start trellisd/);
    expect(win).not.toMatch(/sudo|systemctl/);
  });

  it('tells how to get access, per OS', () => {
    const hint = (platform: NodeJS.Platform) =>
      unavailableConnection(denied, '/s', platform)?.hint ?? '';
    expect(hint('linux')).toMatch(/usermod -aG trellis/);
    expect(hint('darwin')).toMatch(/dseditgroup -o edit -a \$USER -t user trellis/);
    expect(hint('win32')).not.toMatch(/usermod|dseditgroup/);
  });

  it('is not an unavailable state for a refused request', () => {
    expect(unavailableConnection({ code: 'bad_request', message: 'bad' }, '/s', 'linux')).toBe(
      null,
    );
  });
});
