/** The iputils ping output parser the lab's timings rest on (pure; real runs are in mesh.test). */
import { describe, expect, it } from 'vitest';
import { longestReplyGapMs, parsePingOutput } from './ping.js';

/** `ping -n -D -i 0.2 100.64.0.3`, interrupted, from iputils 20221126; seq 2 lost, 3 duplicated. */
const OUTPUT = `PING 100.64.0.3 (100.64.0.3) 56(84) bytes of data.
ping: sendmsg: Network is unreachable
[1795577201.206398] 64 bytes from 100.64.0.3: icmp_seq=1 ttl=64 time=0.547 ms
[1795577201.662324] 64 bytes from 100.64.0.3: icmp_seq=3 ttl=64 time=1.21 ms
[1795577201.662900] 64 bytes from 100.64.0.3: icmp_seq=3 ttl=64 time=1.79 ms (DUP!)
From 100.64.0.1 icmp_seq=4 Destination Host Unreachable
[1795577202.062001] 64 bytes from 100.64.0.3: icmp_seq=5 ttl=64 time=0.6 ms

--- 100.64.0.3 ping statistics ---
5 packets transmitted, 3 received, +1 duplicates, +1 errors, 40% packet loss, time 803ms
rtt min/avg/max/mdev = 0.547/1.037/1.790/0.480 ms`;

describe('parsePingOutput', () => {
  it('reads each reply once, with its arrival time and rtt, and the requests sent', () => {
    const run = parsePingOutput(OUTPUT);
    expect(run.transmitted).toBe(5);
    expect(run.replies).toEqual([
      { seq: 1, rttMs: 0.547, atMs: 1795577201206 },
      { seq: 3, rttMs: 1.21, atMs: 1795577201662 },
      { seq: 5, rttMs: 0.6, atMs: 1795577202062 },
    ]);
  });

  it('reads replies without -D timestamps, and output without a summary', () => {
    const run = parsePingOutput(
      '64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.1 ms\n64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=0.2 ms',
    );
    expect(run).toEqual({
      transmitted: 2,
      replies: [
        { seq: 1, rttMs: 0.1, atMs: null },
        { seq: 2, rttMs: 0.2, atMs: null },
      ],
    });
    expect(parsePingOutput('ping: connect: Network is unreachable')).toEqual({
      transmitted: 0,
      replies: [],
    });
  });
});

describe('longestReplyGapMs', () => {
  const at = (...ms: number[]) => ms.map((atMs, i) => ({ seq: i + 1, rttMs: 1, atMs }));

  it('measures the longest silence from the start, between replies, and to the end', () => {
    expect(longestReplyGapMs(at(1_200, 1_400, 4_400, 4_600), 1_000, 5_000)).toBe(3_000);
    expect(longestReplyGapMs(at(1_100, 1_300), 1_000, 5_000)).toBe(3_700);
    expect(longestReplyGapMs(at(), 1_000, 5_000)).toBe(4_000);
  });

  it('ignores replies outside the window', () => {
    expect(longestReplyGapMs(at(500, 2_000, 9_000), 1_000, 3_000)).toBe(1_000);
  });
});
