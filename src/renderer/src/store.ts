/**
 * The renderer's state: the AppState main pushes (never edited here, only replaced), the current
 * view, the connection to main, and a short-lived status message. Commands go to main through
 * the IPC client; their errors become the status message.
 */
import { create } from 'zustand';
import type { AppState, View } from '../../shared/schema/ipc.js';
import type { IpcError } from '../../shared/schema/ipc-derive.js';
import type { Result } from '../../shared/result.js';
import type { BridgeStatus } from './bridge-transport.js';
import { connectIpc, type RendererIpc } from './ipc.js';

export interface Toast {
  readonly id: number;
  readonly kind: 'info' | 'error';
  readonly text: string;
  /** Where the toast's button leads (notifications that have somewhere to go). */
  readonly view?: View;
}

export interface UiState {
  readonly app: AppState | null;
  readonly view: View;
  readonly link: { readonly status: BridgeStatus; readonly detail: string | null };
  readonly toast: Toast | null;
  readonly ipc: RendererIpc | null;
  navigate(view: View): void;
  say(kind: Toast['kind'], text: string, view?: View): void;
  /** Runs a command; a failure is shown as a toast. Returns whether it succeeded. */
  run<T>(label: string, call: () => Promise<Result<T, IpcError>>): Promise<T | null>;
}

/** How long a status message stays: long enough to read a sentence. */
const TOAST_MS = 4000;
/** Notifications (device approved, exit node offline, ...) stay longer: they may need acting on. */
const NOTICE_MS = 10_000;
let toastSeq = 0;

export const useUi = create<UiState>()((set, get) => ({
  app: null,
  view: 'home',
  link: { status: 'connecting', detail: null },
  toast: null,
  ipc: null,
  navigate: (view) => set({ view }),
  say: (kind, text, view) => {
    const id = ++toastSeq;
    set({ toast: { id, kind, text, ...(view ? { view } : {}) } });
    // A notice with somewhere to go stays long enough to act on.
    setTimeout(
      () => {
        if (get().toast?.id === id) set({ toast: null });
      },
      view ? NOTICE_MS : TOAST_MS,
    );
  },
  run: async (label, call) => {
    const r = await call();
    if (r.ok) return r.value;
    get().say('error', `${label} failed: ${r.error.message}`);
    return null;
  },
}));

/** Connects to main once, loads the state and follows its changes. */
export function startIpc(): RendererIpc {
  const existing = useUi.getState().ipc;
  if (existing) return existing;
  const ipc = connectIpc((status, detail) => {
    useUi.setState({ link: { status, detail: detail ?? null } });
    // After a (re)connect the bridge greets with the current state; ask too, in case it did not.
    const current = useUi.getState().ipc;
    if (status === 'open' && current) void refresh(current);
  });
  useUi.setState({ ipc });
  ipc.client.state.changed((app) => useUi.setState({ app }));
  ipc.client.app.navigate((view) => useUi.setState({ view }));
  ipc.client.app.notice((n) =>
    useUi.getState().say('info', n.body ? `${n.title}: ${n.body}` : n.title, n.view ?? undefined),
  );
  void refresh(ipc);
  return ipc;
}

async function refresh(ipc: RendererIpc): Promise<void> {
  const r = await ipc.client.state.get();
  if (r.ok) useUi.setState({ app: r.value });
}
