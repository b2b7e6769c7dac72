/**
 * One schema-checked JSON file in the state directory, with the previous good copy kept beside
 * it (`<name>.prev`). A file that does not parse is moved aside (`<name>.corrupt`, for a human
 * to inspect), the previous copy is restored, and the caller learns what happened as a typed
 * issue; reading never throws.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type * as z from 'zod';
import { parseJsonWith } from '../../shared/schema/parse.js';
import {
  errorMessage,
  isErrno,
  readBounded,
  syncDir,
  writeFileAtomic,
  type ReadBoundedResult,
} from './atomic-file.js';

export type StateFileErrorCode = 'invalid_json' | 'invalid' | 'too_large' | 'unreadable';

/** Something was wrong with a state file, and what the store did about it. */
export interface StateIssue {
  readonly file: string;
  readonly code: StateFileErrorCode;
  readonly message: string;
  /** `previous`: the last good copy was restored; `default`: the value starts over. */
  readonly recovery: 'previous' | 'default';
}

export class StateWriteError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`cannot write ${file}: ${message}`);
    this.name = 'StateWriteError';
  }
}

type Attempt<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'missing' }
  | { readonly kind: 'bad'; readonly code: StateFileErrorCode; readonly message: string };

export interface ReadOutcome<T> {
  readonly value: T | null;
  readonly issue: StateIssue | null;
}

export class JsonStateFile<S extends z.ZodType> {
  readonly path: string;
  readonly prevPath: string;
  readonly corruptPath: string;

  constructor(
    dir: string,
    readonly name: string,
    private readonly schema: S,
    private readonly maxBytes: number,
  ) {
    this.path = path.join(dir, name);
    this.prevPath = `${this.path}.prev`;
    this.corruptPath = `${this.path}.corrupt`;
  }

  async read(): Promise<ReadOutcome<z.output<S>>> {
    const current = await this.attempt(this.path);
    if (current.kind === 'ok') return { value: current.value, issue: null };
    if (current.kind === 'bad') await this.moveAside();
    const prev = await this.attempt(this.prevPath);
    if (prev.kind === 'ok') {
      // Restore, so the next write backs up a good copy rather than nothing.
      await writeFileAtomic(this.path, await fs.readFile(this.prevPath)).catch(() => undefined);
      return {
        value: prev.value,
        issue:
          current.kind === 'bad'
            ? {
                file: this.name,
                code: current.code,
                message: current.message,
                recovery: 'previous',
              }
            : null,
      };
    }
    if (current.kind === 'bad') {
      return {
        value: null,
        issue: {
          file: this.name,
          code: current.code,
          message: current.message,
          recovery: 'default',
        },
      };
    }
    return { value: null, issue: null };
  }

  /** Replaces the file atomically; the copy it replaces becomes `.prev`. */
  async write(value: z.output<S>): Promise<void> {
    const text = JSON.stringify(value);
    try {
      await this.backupCurrent();
      await writeFileAtomic(this.path, text);
    } catch (e) {
      throw new StateWriteError(this.name, errorMessage(e));
    }
  }

  /** Deletes the file and its previous copy (logout: nothing may resurrect the credential). */
  async remove(): Promise<void> {
    try {
      await fs.rm(this.path, { force: true });
      await fs.rm(this.prevPath, { force: true });
      await syncDir(path.dirname(this.path));
    } catch (e) {
      throw new StateWriteError(this.name, errorMessage(e));
    }
  }

  private async attempt(file: string): Promise<Attempt<z.output<S>>> {
    const raw: ReadBoundedResult = await readBounded(file, this.maxBytes);
    switch (raw.kind) {
      case 'missing':
        return { kind: 'missing' };
      case 'too_large':
        return {
          kind: 'bad',
          code: 'too_large',
          message: `${raw.size} bytes exceeds ${this.maxBytes}`,
        };
      case 'unreadable':
        return { kind: 'bad', code: 'unreadable', message: raw.message };
      case 'ok': {
        const r = parseJsonWith(this.schema, raw.text, this.maxBytes);
        if (r.ok) return { kind: 'ok', value: r.value };
        const code =
          r.error.code === 'invalid_json'
            ? 'invalid_json'
            : r.error.code === 'too_large'
              ? 'too_large'
              : 'invalid';
        return { kind: 'bad', code, message: r.error.message };
      }
    }
  }

  /**
   * Hard-links the current file as `.prev` (no copy, and the current name never disappears).
   * Only ever-good files are current: a bad one was moved aside when it was read.
   */
  private async backupCurrent(): Promise<void> {
    const tmp = `${this.prevPath}.tmp-link`;
    await fs.rm(tmp, { force: true });
    try {
      await fs.link(this.path, tmp);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return;
      throw e;
    }
    await fs.rename(tmp, this.prevPath);
  }

  private async moveAside(): Promise<void> {
    await fs.rename(this.path, this.corruptPath).catch(() => undefined);
  }
}
