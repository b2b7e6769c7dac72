/**
 * Loads what a page shows, keeps the last good data on screen while reloading, and reloads on
 * demand. `load` must be stable (useCallback) and change exactly when what to load changes.
 */
import { useCallback, useEffect, useState } from 'react';
import { describeError } from '../api.js';

interface Loaded<T> {
  readonly from: () => Promise<T>;
  readonly tick: number;
  readonly data: T | null;
  readonly error: string | null;
}

export interface Load<T> {
  readonly data: T | null;
  readonly error: string | null;
  readonly loading: boolean;
  reload(): void;
}

export function useLoad<T>(load: () => Promise<T>): Load<T> {
  const [tick, setTick] = useState(0);
  const [loaded, setLoaded] = useState<Loaded<T> | null>(null);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => {
        if (live) setLoaded({ from: load, tick, data, error: null });
      },
      (e: unknown) => {
        if (live)
          setLoaded((prev) => ({
            from: load,
            tick,
            data: prev?.data ?? null,
            error: describeError(e),
          }));
      },
    );
    return () => {
      live = false;
    };
  }, [load, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return {
    data: loaded?.data ?? null,
    error: loaded?.error ?? null,
    loading: loaded === null || loaded.from !== load || loaded.tick !== tick,
    reload,
  };
}
