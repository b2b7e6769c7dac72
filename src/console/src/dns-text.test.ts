import { describe, expect, it } from 'vitest';
import { formatRecords, formatSplitDns, parseRecords, parseSplitDns } from './dns-text.js';

describe('DNS settings as text', () => {
  it('round-trips split DNS, IPv6 nameservers included', () => {
    const split = {
      'corp.example.com': ['10.0.0.53', '10.0.0.54'],
      'lab.example.com': ['fd00::53'],
    };
    const text = formatSplitDns(split);
    expect(text).toBe('corp.example.com: 10.0.0.53, 10.0.0.54\nlab.example.com: fd00::53');
    expect(parseSplitDns(text)).toEqual({ ok: true, value: split });
    expect(parseSplitDns('\n# a comment\n  Corp.Example.com:10.0.0.1  \n')).toEqual({
      ok: true,
      value: { 'corp.example.com': ['10.0.0.1'] },
    });
  });

  it('says which split DNS line is wrong', () => {
    expect(parseSplitDns('corp.example.com 10.0.0.1')).toEqual({
      ok: false,
      error: 'Split DNS, line 1: expected "domain: nameserver, nameserver"',
    });
    expect(parseSplitDns('a.com: 1.1.1.1\nb.com:')).toEqual({
      ok: false,
      error: 'Split DNS, line 2: b.com needs at least one nameserver',
    });
    expect(parseSplitDns('a.com: 1.1.1.1\na.com: 1.0.0.1').ok).toBe(false);
  });

  it('round-trips extra records; a TXT value keeps its spaces', () => {
    const records = [
      { name: 'nas.corp.example.com', type: 'A' as const, value: '192.168.1.10' },
      { name: 'www.corp.example.com', type: 'CNAME' as const, value: 'nas.corp.example.com' },
      { name: 'corp.example.com', type: 'TXT' as const, value: 'v=spf1 -all' },
    ];
    const text = formatRecords(records);
    expect(parseRecords(text)).toEqual({ ok: true, value: records });
    expect(parseRecords('nas.example.com aaaa fd00::1')).toEqual({
      ok: true,
      value: [{ name: 'nas.example.com', type: 'AAAA', value: 'fd00::1' }],
    });
  });

  it('refuses unknown record types and short lines, naming the line', () => {
    expect(parseRecords('a.example.com A 1.2.3.4\nb.example.com MX mail')).toEqual({
      ok: false,
      error: 'Extra records, line 2: expected "name A|AAAA|CNAME|TXT value"',
    });
    expect(parseRecords('a.example.com A').ok).toBe(false);
  });
});
