import { describe, expect, it } from 'vitest';
import type { DnsRecord } from '../../shared/schema/control/netmap.js';
import { checkExtraRecords } from './settings.js';

const a = (name: string, value = '100.64.0.9'): DnsRecord => ({ type: 'A', name, value });
const cname = (name: string, value: string): DnsRecord => ({ type: 'CNAME', name, value });

describe('extra DNS records', () => {
  it('accepts records of several types per name, and CNAMEs to other names', () => {
    expect(() =>
      checkExtraRecords([
        a('git.corp.example.com'),
        a('git.corp.example.com', '100.64.0.10'),
        { type: 'TXT', name: 'git.corp.example.com', value: 'owner=platform' },
        cname('code.corp.example.com', 'git.corp.example.com'),
      ]),
    ).not.toThrow();
  });

  it.each<[string, DnsRecord[], RegExp]>([
    ['a record listed twice', [a('x.example.com'), a('x.example.com')], /listed twice/],
    ['a CNAME to itself', [cname('x.example.com', 'x.example.com')], /CNAME to itself/],
    [
      'a CNAME after another record',
      [a('x.example.com'), cname('x.example.com', 'y.example.com')],
      /has a CNAME/,
    ],
    [
      'a record after a CNAME',
      [cname('x.example.com', 'y.example.com'), a('x.example.com')],
      /has a CNAME/,
    ],
    [
      'two CNAMEs',
      [cname('x.example.com', 'y.example.com'), cname('x.example.com', 'z.example.com')],
      /has a CNAME/,
    ],
  ])('refuses %s with a typed error naming the entry', (_what, records, message) => {
    expect(() => checkExtraRecords(records)).toThrow(
      expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(message) }),
    );
    expect(() => checkExtraRecords(records)).toThrow(
      /^dns\.extraRecords\.1: |^dns\.extraRecords\.0: /,
    );
  });
});
