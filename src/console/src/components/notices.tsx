/**
 * What happened after an action, said once in a live region (polite for success, an alert for
 * failures), and `useAction` to run an admin change with that reporting and a busy flag.
 */
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { describeError } from '../api.js';

export type NoticeKind = 'ok' | 'error';
export interface Notice {
  readonly id: number;
  readonly kind: NoticeKind;
  readonly text: string;
}

type Say = (kind: NoticeKind, text: string) => void;
const NoticeContext = createContext<Say>(() => undefined);

/** Success notices fade after this long; errors stay until dismissed or replaced. */
const OK_NOTICE_MS = 6_000;

export function NoticeProvider(props: { readonly children: ReactNode }) {
  const [notice, setNotice] = useState<Notice | null>(null);
  const next = useRef(1);
  const say = useCallback<Say>((kind, text) => {
    setNotice({ id: next.current++, kind, text });
  }, []);
  useEffect(() => {
    if (notice?.kind !== 'ok') return;
    const t = setTimeout(() => setNotice((n) => (n?.id === notice.id ? null : n)), OK_NOTICE_MS);
    return () => clearTimeout(t);
  }, [notice]);
  return (
    <NoticeContext.Provider value={say}>
      <div className="notices">
        <div role="status" aria-live="polite" className="notice-slot">
          {notice?.kind === 'ok' && <p className="notice ok">{notice.text}</p>}
        </div>
        <div role="alert" className="notice-slot">
          {notice?.kind === 'error' && (
            <p className="notice error">
              {notice.text}{' '}
              <button type="button" className="link" onClick={() => setNotice(null)}>
                Dismiss
              </button>
            </p>
          )}
        </div>
      </div>
      {props.children}
    </NoticeContext.Provider>
  );
}

export const useSay = (): Say => useContext(NoticeContext);

/**
 * Runs admin changes: one at a time per component, success said as `done`'s text (or nothing
 * when it returns null), failures said as the API's message. Resolves to whether it worked.
 * `inline`: the outcome is kept in `said` for the caller to show (a modal dialog covers the
 * page's notices) instead of going to the page's live region.
 */
export function useAction(opts: { inline?: boolean } = {}): {
  busy: boolean;
  said: Omit<Notice, 'id'> | null;
  run: (f: () => Promise<string | null>) => Promise<boolean>;
} {
  const say = useSay();
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState<Omit<Notice, 'id'> | null>(null);
  const inline = opts.inline ?? false;
  const run = useCallback(
    async (f: () => Promise<string | null>) => {
      setBusy(true);
      setSaid(null);
      const tell = (kind: NoticeKind, text: string) =>
        inline ? setSaid({ kind, text }) : say(kind, text);
      try {
        const msg = await f();
        if (msg) tell('ok', msg);
        return true;
      } catch (e) {
        tell('error', describeError(e));
        return false;
      } finally {
        setBusy(false);
      }
    },
    [say, inline],
  );
  return { busy, said, run };
}

/** An inline action outcome (inside dialogs). */
export function Said(props: { readonly said: Omit<Notice, 'id'> | null }) {
  const s = props.said;
  return (
    <>
      <div role="status">{s?.kind === 'ok' && <p className="notice ok">{s.text}</p>}</div>
      <div role="alert">{s?.kind === 'error' && <p className="notice error">{s.text}</p>}</div>
    </>
  );
}
