/**
 * A bounded log of what changed in one network, by network-wide sequence number. It lets a device
 * that reconnects catch up with one delta naming only the devices that changed while it was away,
 * instead of downloading its whole netmap again.
 */
export type ChangeEntry =
  | { readonly seq: number; readonly kind: 'device'; readonly id: string }
  /** Something every map depends on (DNS, relay map, policy): resuming across it needs a full map. */
  | { readonly seq: number; readonly kind: 'resync' };

export type CatchUp =
  { readonly type: 'devices'; readonly ids: ReadonlySet<string> } | { readonly type: 'full' };

export class ChangeLog {
  private readonly ring: (ChangeEntry | undefined)[];
  private head = 0; // index of the next write
  private count = 0;
  private seq = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<ChangeEntry | undefined>(capacity);
  }

  get lastSeq(): number {
    return this.seq;
  }

  record(change: { kind: 'device'; id: string } | { kind: 'resync' }): number {
    this.seq += 1;
    const entry: ChangeEntry =
      change.kind === 'device'
        ? { seq: this.seq, kind: 'device', id: change.id }
        : { seq: this.seq, kind: 'resync' };
    this.ring[this.head] = entry;
    this.head = (this.head + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    return this.seq;
  }

  /** What changed after `since`; `full` when the log no longer reaches back that far. */
  since(since: number): CatchUp {
    if (since > this.seq) return { type: 'full' };
    const missing = this.seq - since;
    if (missing > this.count) return { type: 'full' };
    const ids = new Set<string>();
    for (let i = 0; i < missing; i++) {
      const e = this.ring[(this.head - 1 - i + this.capacity) % this.capacity];
      if (!e || e.kind === 'resync') return { type: 'full' };
      ids.add(e.id);
    }
    return { type: 'devices', ids };
  }
}
