/** Small accessible building blocks of the console's pages. */
import { useId, useState } from 'react';
import type { ReactNode } from 'react';

export { Switch } from '../../../web-ui/switch.js';

export function PageHeader(props: {
  readonly title: string;
  readonly description?: string;
  readonly actions?: ReactNode;
}) {
  return (
    <header className="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.description && <p className="muted">{props.description}</p>}
      </div>
      {props.actions && <div className="page-actions">{props.actions}</div>}
    </header>
  );
}

export function Section(props: {
  readonly title: string;
  readonly children: ReactNode;
  readonly actions?: ReactNode;
}) {
  const id = useId();
  return (
    <section aria-labelledby={id} className="card">
      <div className="card-head">
        <h2 id={id}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

export type BadgeTone = 'ok' | 'warn' | 'bad' | 'muted' | 'info';
export function Badge(props: { readonly tone: BadgeTone; readonly children: ReactNode }) {
  return <span className={`badge ${props.tone}`}>{props.children}</span>;
}

/** Loading and load-failure lines for a page's data. */
export function LoadStatus(props: {
  readonly loading: boolean;
  readonly error: string | null;
  readonly onRetry: () => void;
  readonly hasData: boolean;
}) {
  if (props.error)
    return (
      <p className="load-error" role="alert">
        Could not load: {props.error}{' '}
        <button type="button" className="link" onClick={props.onRetry}>
          Try again
        </button>
      </p>
    );
  if (props.loading && !props.hasData)
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  return null;
}

/**
 * A secret shown exactly once (a new key): read-only text to select, a copy button, and a
 * warning that it cannot be shown again.
 */
export function SecretOnce(props: { readonly label: string; readonly secret: string }) {
  const id = useId();
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  return (
    <div className="secret">
      <label htmlFor={id}>{props.label}</label>
      <div className="secret-row">
        <input
          id={id}
          readOnly
          value={props.secret}
          spellCheck={false}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(props.secret);
              setCopied('yes');
            } catch {
              setCopied('no');
            }
          }}
        >
          Copy
        </button>
      </div>
      <p className="muted small" role="status">
        {copied === 'yes'
          ? 'Copied.'
          : copied === 'no'
            ? 'Could not copy: select the text and copy it yourself.'
            : 'This is the only time it is shown: store it somewhere safe now.'}
      </p>
    </div>
  );
}

/** A labelled form field; the control gets the id. */
export function Field(props: {
  readonly label: string;
  readonly hint?: string;
  readonly children: (id: string, hintId: string | undefined) => ReactNode;
}) {
  const id = useId();
  const hintId = props.hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, hintId)}
      {props.hint && (
        <p id={hintId} className="muted small">
          {props.hint}
        </p>
      )}
    </div>
  );
}
