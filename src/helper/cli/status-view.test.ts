import { describe, expect, it } from 'vitest';
import { SAMPLE_TIME, sampleStatus } from '../../shared/schema/samples.js';
import { formatAgo, formatBytes, formatLatency, renderTable } from './format.js';
import { describeBackend, renderStatus } from './status-view.js';

const now = new Date(Date.parse(SAMPLE_TIME) + 42_000);

describe('format', () => {
  it('formats byte counts in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(20 * 1024 * 1024)).toBe('20 MiB');
  });

  it('formats handshake ages', () => {
    expect(formatAgo(null, now)).toBe('-');
    expect(formatAgo(SAMPLE_TIME, now)).toBe('42s ago');
    expect(formatAgo(SAMPLE_TIME, new Date(Date.parse(SAMPLE_TIME) + 3 * 3600_000))).toBe('3h ago');
  });

  it('formats latencies with sensible precision', () => {
    expect(formatLatency(0.4213)).toBe('0.42ms');
    expect(formatLatency(12.345)).toBe('12.3ms');
    expect(formatLatency(140.6)).toBe('141ms');
  });

  it('aligns columns without trailing spaces', () => {
    expect(
      renderTable(
        ['A', 'BB'],
        [
          ['xxx', 'y'],
          ['z', ''],
        ],
      ),
    ).toBe('A    BB\nxxx  y\nz');
  });
});

describe('renderStatus', () => {
  it('shows this device, a peer table with path, endpoint, latency, handshake and traffic, and health', () => {
    const s = sampleStatus(2);
    s.health = [
      {
        code: 'control-unreachable',
        severity: 'warning',
        message: 'not connected to control',
        since: null,
      },
    ];
    const text = renderStatus(s, now);
    expect(text.split('\n')).toEqual([
      'State:    running',
      'Control:  https://control.example.com, connected',
      'Device:   alices-macbook.acme.trellis  100.64.0.1  fd7a:115c:a1e0::1',
      'Network:  Acme (acme.trellis), signed in as alice@example.com',
      '',
      'NAME    IP          OS     ONLINE  PATH      ENDPOINT           LATENCY  HANDSHAKE  RX/TX',
      'peer-1  100.64.0.2  linux  yes     direct    203.0.113.1:41641  12.5ms   42s ago    1.0 KiB / 2.0 KiB',
      'peer-2  100.64.0.3  linux  yes     relay #1  -                  12.5ms   42s ago    2.0 KiB / 4.0 KiB',
      '',
      '# warning: not connected to control',
    ]);
  });

  it('marks a direct path that WireGuard carries itself (the fast path)', () => {
    const s = sampleStatus(1);
    const peer = s.peers[0]!;
    s.peers = [
      { ...peer, path: { type: 'direct', endpoint: '203.0.113.1:41641', fastPath: true } },
    ];
    const row = renderStatus(s, now)
      .split('\n')
      .find((l) => l.startsWith('peer-1'));
    expect(row).toMatch(
      /^peer-1\s+100\.64\.0\.2\s+linux\s+yes\s+direct\+fast\s+203\.0\.113\.1:41641/,
    );
  });

  it('says so when there are no peers, and explains each backend state', () => {
    expect(renderStatus({ ...sampleStatus(0), self: null, network: null }, now)).toContain(
      'No peers.',
    );
    expect(describeBackend({ state: 'needs-login', loginUrl: 'http://x/login/1' })).toBe(
      'needs login (visit http://x/login/1)',
    );
    expect(describeBackend({ state: 'needs-login', loginUrl: null })).toContain('trellis up');
    expect(describeBackend({ state: 'error', message: 'boom' })).toBe('error: boom');
  });
});
