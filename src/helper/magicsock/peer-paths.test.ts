import { describe, expect, it } from 'vitest';
import type { DiscoMessage } from '../../shared/disco/index.js';
import type { IpPort } from '../../shared/ip.js';
import { ManualClock } from '../testing/manual-clock.js';
import { MAX_CALL_ME_MAYBE_ENDPOINTS } from '../../shared/disco/index.js';
import {
  CALL_ME_MAYBE_PING_BURST,
  CALL_ME_MAYBE_PINGS_PER_MS,
  DISCOVERY_INTERVAL_MS,
  FORGET_DIRECT_PATH_MS,
  HEARTBEAT_INTERVAL_MS,
  isClearlyBetter,
  PeerPaths,
  PING_TIMEOUT_MS,
  SESSION_ACTIVE_TIMEOUT_MS,
  TRUST_DIRECT_PATH_MS,
  UPGRADE_INTERVAL_MS,
} from './peer-paths.js';

const ep = (ip: string, port: number): IpPort => ({ ip, family: 'ipv4', port });
const LAN = ep('192.168.1.7', 41641);
const WAN = ep('203.0.113.7', 41641);
const OURS = ep('198.51.100.1', 41641);

interface Sent {
  readonly via: 'direct' | 'relay';
  readonly addr: IpPort | null;
  readonly msg: DiscoMessage;
}

function setup(opts: { relayUp?: boolean } = {}) {
  const clock = new ManualClock();
  const sent: Sent[] = [];
  const lost: number[] = [];
  const paths = new PeerPaths(clock, {
    sendDirect: (addr, msg) => {
      sent.push({ via: 'direct', addr, msg });
      return true;
    },
    sendRelay: (msg) => {
      if (opts.relayUp === false) return null;
      sent.push({ via: 'relay', addr: null, msg });
      return 1;
    },
    ownEndpoints: () => [OURS],
    ownNodeKey: () => new Uint8Array(32).fill(1),
    directPathLost: () => void lost.push(clock.now()),
    debug: () => {},
  });
  paths.setNetmapEndpoints([LAN, WAN]);
  const pings = (filter?: (s: Sent) => boolean) =>
    sent.filter((s) => s.msg.type === 'ping' && (!filter || filter(s)));
  /** Answers the last ping sent to `addr` (or via relay) after `afterMs`. */
  const answer = (to: IpPort | 'relay', afterMs = 0): boolean => {
    const p = [...sent]
      .reverse()
      .find((s) =>
        to === 'relay'
          ? s.via === 'relay' && s.msg.type === 'ping'
          : s.msg.type === 'ping' && s.addr?.port === to.port && s.addr.ip === to.ip,
      );
    if (!p || p.msg.type !== 'ping') throw new Error('no such ping');
    clock.advance(afterMs);
    return paths.handlePong(
      to === 'relay' ? { type: 'relay', region: 1 } : { type: 'direct', addr: to },
      p.msg.txId,
    );
  };
  return { clock, sent, paths, pings, answer, lost };
}

describe('PeerPaths', () => {
  it('relays until a pong proves a direct path, and discovers at once on the first packet', () => {
    const { paths, pings, sent } = setup();
    expect(paths.planSend()).toEqual({ direct: null, relay: true });
    // Discovery: both candidates and the relay pinged, call-me-maybe with our endpoints.
    expect(pings().map((s) => s.addr)).toEqual([LAN, WAN, null]);
    expect(sent.find((s) => s.msg.type === 'call-me-maybe')?.msg).toEqual({
      type: 'call-me-maybe',
      endpoints: [OURS],
    });
    // Rate limited: more packets within the discovery interval send no more probes.
    const n = sent.length;
    paths.planSend();
    expect(sent.length).toBe(n);
    expect(paths.current()).toEqual({ type: 'none' });
  });

  it('uses a direct path as soon as it answers, and reports its latency', () => {
    const { paths, answer } = setup();
    paths.planSend();
    expect(answer(WAN, 12)).toBe(true);
    expect(paths.planSend()).toEqual({ direct: WAN, relay: false });
    expect(paths.current()).toEqual({ type: 'direct', addr: WAN, latencyMs: 12 });
  });

  it('reports the relay path once something came back over it', () => {
    const { paths, answer } = setup();
    paths.planSend();
    expect(answer('relay', 30)).toBe(true);
    expect(paths.current()).toEqual({ type: 'relay', latencyMs: 30 });
  });

  it('heartbeats the best path and keeps trusting it while pongs come back', () => {
    const { clock, paths, pings, answer } = setup();
    paths.planSend();
    answer(LAN, 1);
    for (let i = 0; i < 5; i++) {
      const before = pings((s) => s.addr === LAN).length;
      clock.advance(HEARTBEAT_INTERVAL_MS);
      paths.planSend(); // WireGuard keeps sending
      expect(pings((s) => s.addr === LAN).length).toBe(before + 1);
      answer(LAN, 1);
      expect(paths.planSend()).toEqual({ direct: LAN, relay: false });
    }
  });

  it('sends on both paths once the direct one goes stale, then forgets it', () => {
    const { clock, paths, answer, lost } = setup();
    paths.planSend();
    answer(LAN, 1);
    clock.advance(TRUST_DIRECT_PATH_MS); // heartbeats go unanswered
    expect(paths.planSend()).toEqual({ direct: LAN, relay: false });
    expect(lost).toEqual([]);
    clock.advance(1);
    expect(paths.planSend()).toEqual({ direct: LAN, relay: true });
    expect(lost).toEqual([1 + TRUST_DIRECT_PATH_MS + 1]); // reported once
    paths.planSend();
    expect(lost).toHaveLength(1);
    expect(paths.current().type).toBe('none');
    clock.advance(FORGET_DIRECT_PATH_MS - TRUST_DIRECT_PATH_MS);
    expect(paths.planSend()).toEqual({ direct: null, relay: true });
  });

  it('switches to a lower-latency path only when it is clearly better', () => {
    expect(isClearlyBetter(9.5, 10)).toBe(false); // 5 %: jitter
    expect(isClearlyBetter(0.2, 0.4)).toBe(false); // 50 % but only 0.2 ms
    expect(isClearlyBetter(5, 10)).toBe(true);
    const { clock, paths, answer } = setup();
    paths.planSend();
    answer(WAN, 10);
    // LAN answers the same round at nearly the same latency: no switch.
    expect(answer(LAN, 0.3)).toBe(true);
    expect(paths.current()).toMatchObject({ type: 'direct', addr: WAN, latencyMs: 10 });
    // Heartbeats keep WAN at 10 ms until the upgrade probe a minute later finds LAN at 1 ms.
    const nextTimer = () => clock.advance(clock.pending()[0]!);
    while (clock.now() < UPGRADE_INTERVAL_MS - HEARTBEAT_INTERVAL_MS) {
      nextTimer();
      paths.planSend();
      answer(WAN, 10);
    }
    nextTimer();
    expect(answer(LAN, 1)).toBe(true);
    expect(paths.current()).toMatchObject({ type: 'direct', addr: LAN, latencyMs: 1 });
  });

  it('probes every candidate again every minute (upgrade probes)', () => {
    const { clock, paths, pings, answer } = setup();
    paths.planSend();
    answer(LAN, 1);
    const wanPings = () => pings((s) => s.addr === WAN).length;
    const first = wanPings();
    for (let t = HEARTBEAT_INTERVAL_MS; t < UPGRADE_INTERVAL_MS; t += HEARTBEAT_INTERVAL_MS) {
      clock.advance(HEARTBEAT_INTERVAL_MS);
      paths.planSend();
      answer(LAN, 0);
    }
    expect(wanPings()).toBe(first);
    clock.advance(HEARTBEAT_INTERVAL_MS);
    expect(wanPings()).toBe(first + 1);
  });

  it('keeps discovering every few seconds while no direct path works', () => {
    const { clock, paths, pings } = setup();
    paths.planSend();
    const rounds = () => pings((s) => s.via === 'relay').length;
    expect(rounds()).toBe(1);
    clock.advance(DISCOVERY_INTERVAL_MS - 1);
    paths.planSend();
    expect(rounds()).toBe(1);
    clock.advance(HEARTBEAT_INTERVAL_MS);
    expect(rounds()).toBe(2);
  });

  it('stops probing an idle peer and starts again with the next packet', () => {
    const { clock, paths, sent } = setup();
    paths.planSend();
    clock.advance(SESSION_ACTIVE_TIMEOUT_MS + HEARTBEAT_INTERVAL_MS);
    const n = sent.length;
    clock.advance(10 * DISCOVERY_INTERVAL_MS);
    expect(sent.length).toBe(n);
    expect(clock.pending()).toEqual([]);
    paths.planSend();
    expect(sent.length).toBeGreaterThan(n);
  });

  it('keeps heartbeating a path whose traffic bypasses it (fast path activity)', () => {
    const { clock, paths, answer } = setup();
    paths.planSend();
    expect(answer(WAN, 5)).toBe(true);
    // No packet goes through planSend any more; WireGuard's own counters report activity, and
    // every heartbeat's ping (to be answered) keeps the path trusted.
    for (let t = 0; t < 3 * SESSION_ACTIVE_TIMEOUT_MS; t += HEARTBEAT_INTERVAL_MS) {
      paths.noteWireGuardActive();
      clock.advance(HEARTBEAT_INTERVAL_MS);
      expect(answer(WAN, 1), `heartbeat at ${clock.now()} ms`).toBe(true);
    }
    expect(paths.current().type).toBe('direct');
    // Without that activity the heartbeats stop and the trust runs out.
    clock.advance(SESSION_ACTIVE_TIMEOUT_MS + HEARTBEAT_INTERVAL_MS);
    expect(clock.pending()).toEqual([]);
    expect(paths.current().type).not.toBe('direct');
  });

  it('pings every call-me-maybe endpoint at once, even right after a discovery', () => {
    const { paths, pings } = setup();
    paths.planSend();
    const other = ep('203.0.113.99', 5000);
    paths.handleCallMeMaybe([WAN, other]);
    expect(pings((s) => s.addr === WAN)).toHaveLength(2);
    expect(pings((s) => s.addr?.ip === other.ip)).toHaveLength(1);
  });

  it('holds back call-me-maybe pings beyond the per-peer budget (a flood is not a packet cannon)', () => {
    const { paths, pings, clock } = setup();
    const list = (round: number) =>
      Array.from({ length: MAX_CALL_ME_MAYBE_ENDPOINTS }, (_, i) =>
        ep(`198.18.${round}.${i + 1}`, 7000 + i),
      );
    const toFlood = (s: { addr: IpPort | null }) => s.addr?.ip.startsWith('198.18.') === true;
    // Ten full lists in one instant: the budget lets two lists through, the rest is held.
    let held = 0;
    for (let r = 0; r < 10; r++) held += paths.handleCallMeMaybe(list(r));
    expect(pings(toFlood)).toHaveLength(CALL_ME_MAYBE_PING_BURST);
    expect(held).toBe(10 * MAX_CALL_ME_MAYBE_ENDPOINTS - CALL_ME_MAYBE_PING_BURST);
    // One second later the budget has refilled a little (6.4 pings a second), no more.
    clock.advance(1_000);
    const before = pings(toFlood).length;
    paths.handleCallMeMaybe(list(20));
    expect(pings(toFlood).length - before).toBe(Math.floor(1_000 * CALL_ME_MAYBE_PINGS_PER_MS));
    // Held endpoints stay candidates: our own (rate-limited) discovery probes them later.
    expect(paths.candidateAddrs().length).toBeGreaterThan(CALL_ME_MAYBE_PING_BURST);
    // After a quiet spell an honest call-me-maybe is answered in full again.
    clock.advance((CALL_ME_MAYBE_PING_BURST / CALL_ME_MAYBE_PINGS_PER_MS) * 2);
    const quiet = pings().length;
    expect(paths.handleCallMeMaybe([WAN, LAN])).toBe(0);
    expect(pings().length - quiet).toBe(2);
  });

  it('answers pings on the path they came by and pings a new source back', () => {
    const { paths, sent } = setup();
    const src = ep('203.0.113.50', 6000);
    const txId = new Uint8Array(12).fill(5);
    paths.handlePing({ type: 'direct', addr: src }, txId);
    expect(sent[0]).toEqual({ via: 'direct', addr: src, msg: { type: 'pong', txId, src } });
    expect(sent[1]).toMatchObject({ via: 'direct', addr: src, msg: { type: 'ping' } });
    paths.handlePing({ type: 'relay', region: 1 }, txId);
    expect(sent[2]).toMatchObject({ via: 'relay', msg: { type: 'pong', txId } });
  });

  it('ignores pongs that answer nothing: unknown, late, or from another address', () => {
    const { clock, paths, pings } = setup();
    paths.planSend();
    expect(paths.handlePong({ type: 'direct', addr: LAN }, new Uint8Array(12))).toBe(false);
    const toLan = pings((s) => s.addr === LAN)[0]!.msg as { txId: Uint8Array };
    expect(paths.handlePong({ type: 'direct', addr: WAN }, toLan.txId)).toBe(false);
    expect(paths.handlePong({ type: 'relay', region: 1 }, toLan.txId)).toBe(false);
    clock.advance(PING_TIMEOUT_MS + 1);
    expect(paths.handlePong({ type: 'direct', addr: LAN }, toLan.txId)).toBe(false);
    expect(paths.current()).toEqual({ type: 'none' });
  });

  it('probes for the CLI: first answer wins, or null at the deadline', async () => {
    const { clock, paths, answer } = setup();
    const p = paths.probe(1000);
    answer('relay', 20);
    await expect(p).resolves.toEqual({ type: 'relay', region: 1, latencyMs: 20 });
    const q = paths.probe(1000);
    clock.advance(1000);
    await expect(q).resolves.toBeNull();
    answer(WAN, 0);
    const r = paths.probe(1000);
    answer(WAN, 3);
    await expect(r).resolves.toEqual({ type: 'direct', addr: WAN, latencyMs: 3 });
  });

  it('forgets learned paths when the peer restarts', () => {
    const { paths, answer } = setup();
    paths.planSend();
    answer(LAN, 1);
    paths.reset();
    expect(paths.current()).toEqual({ type: 'none' });
    expect(paths.planSend()).toEqual({ direct: null, relay: true });
  });

  it('sends no disco without a relay or our node key, and never throws', () => {
    const { paths } = setup({ relayUp: false });
    expect(paths.planSend()).toEqual({ direct: null, relay: true });
    paths.close();
    expect(paths.planSend()).toEqual({ direct: null, relay: true });
  });
});
