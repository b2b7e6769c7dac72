/** Small accessible building blocks of the console's pages. */
import { useId, useState } from 'react';
import type { ReactNode } from 'react';
import type { Load } from './useLoad.js';

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

/** Loading and load-failure lines for a page's data (from useLoad). */
export function LoadStatus(props: { readonly load: Load<unknown> }) {
  const { error, loading, data, reload } = props.load;
  if (error)
    return (
      <p className="load-error" role="alert">
        Could not load: {error}{' '}
        <button type="button" className="link" onClick={reload}>
          Try again
        </button>
      </p>
    );
  if (loading && data === null)
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

/**
 * A table in its scrolling frame, captioned for screen readers, with column headers and, when
 * `actions` names it, a last column of row buttons whose header only screen readers see.
 */
export function Table(props: {
  readonly caption: ReactNode;
  readonly columns: readonly string[];
  readonly actions?: string;
  readonly className?: string;
  /** A line under the header when no row is shown ("No device matches."). */
  readonly empty?: ReactNode;
  /** The rows. */
  readonly children: ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table className={props.className}>
        <caption className="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
            {props.actions && (
              <th scope="col">
                <span className="visually-hidden">{props.actions}</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
      {props.empty && <p className="empty">{props.empty}</p>}
    </div>
  );
}
