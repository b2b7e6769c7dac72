import { describe, expect, it } from 'vitest';
import { ExecError, type Exec } from '../exec.js';
import { decodeSysctlRecord, encodeSysctlRecord, SysctlCommand } from './sysctl.js';

describe('the sysctl record in the table comment', () => {
  it('round-trips the values it knows, in a stable order, within nft’s comment size', () => {
    const record = new Map([
      ['net.ipv6.conf.all.forwarding', '1'],
      ['net.ipv4.ip_forward', '0'],
      ['net.ipv4.conf.all.src_valid_mark', '0'],
    ]);
    const text = encodeSysctlRecord(record);
    expect(text).toBe('trellis-restore srcmark=0 v4fwd=0 v6fwd=1');
    expect(decodeSysctlRecord(text)).toEqual(record);
  });

  it('ignores what is not a record, unknown names and odd values', () => {
    expect(decodeSysctlRecord(null).size).toBe(0);
    expect(decodeSysctlRecord('someone else’s comment v4fwd=1').size).toBe(0);
    expect([...decodeSysctlRecord('trellis-restore v4fwd=x kernel.panic=1 v6fwd=0')]).toEqual([
      ['net.ipv6.conf.all.forwarding', '0'],
    ]);
    expect(encodeSysctlRecord(new Map([['kernel.panic', '1']]))).toBe('trellis-restore');
  });
});

describe('SysctlCommand', () => {
  it('reads and writes through sysctl (in the namespace), and reads a missing key as null', async () => {
    const calls: string[] = [];
    const exec: Exec = async (command, args) => {
      calls.push(`${command} ${args.join(' ')}`);
      if (args.includes('net.ipv6.conf.all.forwarding')) {
        throw new ExecError(
          'exit_status',
          command,
          args,
          255,
          null,
          'sysctl: cannot stat /proc/sys/net/ipv6/conf/all/forwarding: No such file or directory',
        );
      }
      return { stdout: '1\n', stderr: '' };
    };
    const s = new SysctlCommand(exec, 'tlns');
    expect(await s.get('net.ipv4.ip_forward')).toBe('1');
    expect(await s.get('net.ipv6.conf.all.forwarding')).toBeNull();
    await s.set('net.ipv4.ip_forward', '0');
    expect(calls).toEqual([
      'ip netns exec tlns sysctl -n net.ipv4.ip_forward',
      'ip netns exec tlns sysctl -n net.ipv6.conf.all.forwarding',
      'ip netns exec tlns sysctl -q -w net.ipv4.ip_forward=0',
    ]);
  });
});
