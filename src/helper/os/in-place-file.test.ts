/**
 * In-place rewrites: on real files (inode kept, symlinks followed, bounds), and on an in-memory
 * file that fails or short-writes at every step, recording each state a crash could leave.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InPlaceWriteError,
  readFileBounded,
  writeFileInPlace,
  type InPlaceFs,
  type InPlaceHandle,
} from './in-place-file.js';

type Step = 'read' | 'write' | 'truncate' | 'sync';
/** What the n-th call of a step does instead of succeeding. */
type Fault = { step: Step; call: number; kind: 'error' | 'short' };

/** One file in memory; `states` is its content after every change (what a crash would leave). */
class MemFile {
  states: string[];
  private calls = new Map<Step, number>();
  constructor(
    public content: Buffer | null,
    private readonly faults: readonly Fault[] = [],
  ) {
    this.states = [content?.toString() ?? '(absent)'];
  }

  private fault(step: Step): Fault | undefined {
    const n = (this.calls.get(step) ?? 0) + 1;
    this.calls.set(step, n);
    return this.faults.find((f) => f.step === step && f.call === n);
  }

  private record(): void {
    this.states.push(this.content?.toString() ?? '(absent)');
  }

  fs(): InPlaceFs {
    return {
      open: async () => {
        const created = this.content === null;
        if (created) {
          this.content = Buffer.alloc(0);
          this.record();
        }
        return { handle: this.handle(), created };
      },
      remove: async () => {
        this.content = null;
        this.record();
      },
    };
  }

  private handle(): InPlaceHandle {
    const body = (): Buffer => {
      if (this.content === null) throw new Error('removed');
      return this.content;
    };
    return {
      read: async (buf, position) => {
        if (this.fault('read')) throw Object.assign(new Error('EIO: read'), { code: 'EIO' });
        return body().copy(buf, 0, position, Math.min(body().length, position + buf.length));
      },
      write: async (buf, position) => {
        const f = this.fault('write');
        if (f?.kind === 'error')
          throw Object.assign(new Error('ENOSPC: write'), { code: 'ENOSPC' });
        // A short write stores the first half, as a full disk or a signal would.
        const n = f?.kind === 'short' ? Math.floor(buf.length / 2) : buf.length;
        const old = body();
        const next = Buffer.alloc(Math.max(old.length, position + n));
        old.copy(next);
        buf.copy(next, position, 0, n);
        this.content = next;
        this.record();
        return n;
      },
      truncate: async (length) => {
        if (this.fault('truncate')) throw new Error('EIO: truncate');
        const next = Buffer.alloc(length);
        body().copy(next, 0, 0, length);
        this.content = next;
        this.record();
      },
      sync: async () => {
        if (this.fault('sync')) throw new Error('EIO: fsync');
      },
      close: async () => undefined,
    };
  }
}

const OLD = '# the machine’s own\nnameserver 192.168.1.1\nsearch home.example\n';
const LONGER = `${OLD}# and more\nnameserver 10.0.0.1\n`;
const SHORTER = 'nameserver 100.100.100.100\n';

/** The old text, or the full new text possibly followed by the newline padding. */
function wholeText(state: string, old: string, next: string): boolean {
  const padded = (t: string) => state.startsWith(t) && /^\n*$/.test(state.slice(t.length));
  return state === '(absent)' || padded(old) || padded(next);
}

describe('writeFileInPlace on an in-memory file', () => {
  for (const next of [SHORTER, LONGER]) {
    const label = next === SHORTER ? 'shorter' : 'longer';

    it(`replaces with a ${label} text in one write, never passing through an empty or torn file`, async () => {
      const file = new MemFile(Buffer.from(OLD));
      await writeFileInPlace('/etc/resolv.conf', next, file.fs());
      expect(file.content?.toString()).toBe(next);
      expect(file.states.every((s) => s.length > 0 && wholeText(s, OLD, next))).toBe(true);
    });

    const faults: Fault[] = [
      { step: 'write', call: 1, kind: 'error' },
      { step: 'write', call: 1, kind: 'short' },
      { step: 'truncate', call: 1, kind: 'error' },
      { step: 'sync', call: 1, kind: 'error' },
      // Read-back (calls 1 and 2 read the old content to its end).
      { step: 'read', call: 3, kind: 'error' },
    ];
    for (const fault of faults) {
      if (fault.step === 'truncate' && next === LONGER) continue; // no truncate when growing
      it(`${label}: a failed ${fault.step} (${fault.kind}) puts the old text back`, async () => {
        const file = new MemFile(Buffer.from(OLD), [fault]);
        const err = await writeFileInPlace('/etc/resolv.conf', next, file.fs()).catch((e) => e);
        expect(err).toBeInstanceOf(InPlaceWriteError);
        expect(err).toMatchObject({ restored: true, code: 'command_failed' });
        expect((err as Error).message).toMatch(
          /^writing \/etc\/resolv.conf failed \(.+\); its previous content is back$/,
        );
        expect(file.content?.toString()).toBe(OLD);
        // A crash at any point would have left the old or the new text, never an empty file;
        // only a short write (the fault itself) leaves a torn state before the put-back.
        const states = fault.kind === 'short' ? file.states.filter((_, i) => i !== 1) : file.states;
        expect(states.filter((s) => !wholeText(s, OLD, next))).toEqual([]);
        expect(file.states).not.toContain('');
      });
    }
  }

  it('says so when putting the old text back fails too', async () => {
    const file = new MemFile(Buffer.from(OLD), [
      { step: 'sync', call: 1, kind: 'error' },
      { step: 'sync', call: 2, kind: 'error' },
    ]);
    const err = await writeFileInPlace('/etc/resolv.conf', SHORTER, file.fs()).catch((e) => e);
    expect(err).toMatchObject({ name: 'InPlaceWriteError', restored: false });
    expect((err as Error).message).toContain('putting its previous content back failed too');
    // Both writes completed; only their sync failed: the old text is what the file holds.
    expect(file.content?.toString()).toBe(OLD);
  });

  it('removes a file it created when writing it fails', async () => {
    const file = new MemFile(null, [{ step: 'write', call: 1, kind: 'short' }]);
    await expect(writeFileInPlace('/etc/resolv.conf', OLD, file.fs())).rejects.toMatchObject({
      restored: true,
    });
    expect(file.content).toBeNull();
  });

  it('leaves the file alone when its old content cannot be read or is too large', async () => {
    const unreadable = new MemFile(Buffer.from(OLD), [{ step: 'read', call: 1, kind: 'error' }]);
    await expect(
      writeFileInPlace('/etc/resolv.conf', SHORTER, unreadable.fs()),
    ).rejects.toMatchObject({
      restored: true,
      message: expect.stringMatching(/reading it failed/),
    });
    expect(unreadable.states).toEqual([OLD]);
    const big = new MemFile(Buffer.from('#'.repeat(100)));
    await expect(writeFileInPlace('/x', SHORTER, big.fs(), 64)).rejects.toThrow(
      /larger than 64 bytes/,
    );
    expect(big.states).toEqual(['#'.repeat(100)]);
  });

  it('turns a failure to open into a typed error', async () => {
    const fsApi: InPlaceFs = {
      open: async () => {
        throw Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
      },
      remove: async () => undefined,
    };
    await expect(writeFileInPlace('/etc/resolv.conf', OLD, fsApi)).rejects.toMatchObject({
      name: 'InPlaceWriteError',
      restored: true,
      message: expect.stringContaining('opening it failed (EROFS'),
    });
  });

  it('does not write when the content is already the same', async () => {
    const file = new MemFile(Buffer.from(OLD), [{ step: 'write', call: 1, kind: 'error' }]);
    await writeFileInPlace('/etc/resolv.conf', OLD, file.fs());
    expect(file.states).toEqual([OLD]);
  });
});

describe('writeFileInPlace and readFileBounded on real files', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-inplace-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the inode (bind mounts of it stay valid) and writes exact bytes', async () => {
    const file = path.join(dir, 'resolv.conf');
    fs.writeFileSync(file, OLD);
    const ino = fs.statSync(file).ino;
    await writeFileInPlace(file, LONGER);
    expect(fs.readFileSync(file, 'utf8')).toBe(LONGER);
    await writeFileInPlace(file, SHORTER);
    expect(fs.readFileSync(file, 'utf8')).toBe(SHORTER);
    await writeFileInPlace(file, '');
    expect(fs.readFileSync(file, 'utf8')).toBe('');
    expect(fs.statSync(file).ino).toBe(ino);
  });

  it('follows a symlink to its target, and creates a missing file with mode 0644', async () => {
    const target = path.join(dir, 'stub.conf');
    const link = path.join(dir, 'resolv.conf');
    fs.writeFileSync(target, OLD);
    fs.symlinkSync(target, link);
    await writeFileInPlace(link, SHORTER);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe(SHORTER);
    const fresh = path.join(dir, 'fresh.conf');
    await writeFileInPlace(fresh, OLD);
    expect(fs.readFileSync(fresh, 'utf8')).toBe(OLD);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o644 & ~process.umask());
  });

  it('reads bounded: null when missing, an error when larger, /proc files in full', async () => {
    const file = path.join(dir, 'f');
    expect(await readFileBounded(file)).toBeNull();
    fs.writeFileSync(file, 'x'.repeat(100));
    expect(await readFileBounded(file, 100)).toBe('x'.repeat(100));
    await expect(readFileBounded(file, 99)).rejects.toThrow(/larger than 99 bytes/);
    // stat says 0 bytes for /proc files: the reader must not trust it.
    expect(await readFileBounded('/proc/self/mountinfo')).toMatch(/ \/ /);
  });
});
