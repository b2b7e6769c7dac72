/**
 * Modal dialogs on the native <dialog> element: the browser traps focus, Escape cancels, and
 * the dialog is labelled by its title. `useConfirm` asks a yes/no question as a promise, and
 * `ConfirmButton` asks it before it acts.
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
} from 'react';
import type { ComponentProps, ReactNode } from 'react';

export function Dialog(props: {
  readonly title: string;
  readonly onClose: () => void;
  readonly children: ReactNode;
  readonly wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  // The latest onClose, so the dialog opens once per mount whatever the caller re-renders.
  const onClose = useRef(props.onClose);
  useEffect(() => {
    onClose.current = props.onClose;
  });
  // A layout effect, so that on unmount the dialog closes while still in the page: the browser
  // then gives focus back to what had it before the dialog opened.
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (!d.open) d.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      onClose.current();
    };
    d.addEventListener('cancel', cancel);
    return () => {
      d.removeEventListener('cancel', cancel);
      if (d.open) d.close();
    };
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} className={props.wide ? 'dialog wide' : 'dialog'}>
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
    </dialog>
  );
}

export interface ConfirmSpec {
  readonly title: string;
  readonly body: ReactNode;
  /** The confirming button's text ("Delete"). */
  readonly action: string;
  readonly danger?: boolean;
}

type Ask = (spec: ConfirmSpec) => Promise<boolean>;
const ConfirmContext = createContext<Ask>(async () => false);

export function ConfirmProvider(props: { readonly children: ReactNode }) {
  const [asking, setAsking] = useState<{ spec: ConfirmSpec; done: (ok: boolean) => void } | null>(
    null,
  );
  const ask = useCallback<Ask>(
    (spec) => new Promise<boolean>((resolve) => setAsking({ spec, done: resolve })),
    [],
  );
  const answer = useCallback(
    (ok: boolean) => {
      asking?.done(ok);
      setAsking(null);
    },
    [asking],
  );
  const cancel = useCallback(() => answer(false), [answer]);
  return (
    <ConfirmContext.Provider value={ask}>
      {props.children}
      {asking && (
        <Dialog title={asking.spec.title} onClose={cancel}>
          <div className="dialog-body">{asking.spec.body}</div>
          <div className="dialog-actions">
            <button type="button" onClick={cancel}>
              Cancel
            </button>
            <button
              type="button"
              className={asking.spec.danger ? 'danger' : 'primary'}
              onClick={() => answer(true)}
            >
              {asking.spec.action}
            </button>
          </div>
        </Dialog>
      )}
    </ConfirmContext.Provider>
  );
}

export const useConfirm = (): Ask => useContext(ConfirmContext);

/** A button that asks first (`confirm`) and runs `onConfirmed` only when the answer is yes. */
export function ConfirmButton(
  props: Omit<ComponentProps<'button'>, 'type' | 'onClick'> & {
    readonly confirm: ConfirmSpec;
    readonly onConfirmed: () => unknown;
  },
) {
  const { confirm, onConfirmed, ...button } = props;
  const ask = useConfirm();
  return (
    <button
      type="button"
      {...button}
      onClick={async () => {
        if (await ask(confirm)) await onConfirmed();
      }}
    />
  );
}
