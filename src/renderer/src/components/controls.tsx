/** Small accessible controls shared by the views. */
import type { ReactNode } from 'react';
import { useUi } from '../store.js';
import { copyText } from '../ipc.js';

export { Switch } from '../../../web-ui/switch.js';

/** A button that copies `text` and says so. */
export function CopyButton(props: {
  readonly text: string;
  readonly what: string;
  readonly children?: ReactNode;
}) {
  const ipc = useUi((s) => s.ipc);
  const say = useUi((s) => s.say);
  return (
    <button
      type="button"
      className="copy"
      aria-label={`Copy ${props.what}`}
      title={`Copy ${props.what}`}
      onClick={async () => {
        if (!ipc) return;
        const done = await copyText(ipc, props.text);
        say(done ? 'info' : 'error', done ? `Copied ${props.text}` : 'Could not copy');
      }}
    >
      {props.children ?? 'Copy'}
    </button>
  );
}

export function Section(props: {
  readonly title: string;
  readonly children: ReactNode;
  readonly actions?: ReactNode;
}) {
  const id = `h-${props.title.replace(/\W+/g, '-').toLowerCase()}`;
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
