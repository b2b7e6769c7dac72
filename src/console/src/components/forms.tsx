/**
 * The console's forms: labelled fields that hand their hint and error to assistive tech, a form
 * whose submit buttons follow its pending state, and a dialog whose form makes one admin change
 * and says how it went.
 */
import { createContext, useContext, useId } from 'react';
import type { ComponentProps, ReactNode } from 'react';
import { Dialog } from './Dialog.js';
import { Said, useAction, useSay } from './notices.js';

/** What a field's control must carry: its id (the label's target) and its descriptions. */
export interface FieldControl {
  readonly id: string;
  readonly 'aria-describedby': string | undefined;
  readonly 'aria-invalid': true | undefined;
}

interface FieldText {
  readonly label: string;
  readonly hint?: string;
  /** What is wrong with the value: shown under the control, which is marked invalid. */
  readonly error?: string | null;
}

/** A labelled form field around any control, which gets the props in `FieldControl`. */
export function Field(props: FieldText & { readonly children: (c: FieldControl) => ReactNode }) {
  const id = useId();
  const errorId = props.error ? `${id}-error` : undefined;
  const hintId = props.hint ? `${id}-hint` : undefined;
  const describedBy = [errorId, hintId].filter((x) => x !== undefined).join(' ');
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children({
        id,
        'aria-describedby': describedBy || undefined,
        'aria-invalid': props.error ? true : undefined,
      })}
      {props.error && (
        <p id={errorId} className="field-error">
          {props.error}
        </p>
      )}
      {props.hint && (
        <p id={hintId} className="muted small">
          {props.hint}
        </p>
      )}
    </div>
  );
}

/** The attributes a field sets itself, left out of those its control takes from the caller. */
type Own = keyof FieldControl | 'value' | 'onChange';

/** A field whose control edits `value` as text: `onChange` gets the new text. */
type Bound<V, Control> = FieldText & {
  readonly value: V;
  readonly onChange: (value: string) => void;
} & Omit<Control, Own>;

/** Splits a field's props into the Field's and its control's, the control's change bound. */
function bind<P extends Bound<string | number, object>>(props: P) {
  const { label, hint, error, onChange, ...control } = props;
  return {
    field: { label, hint, error },
    control: {
      ...control,
      onChange: (e: { readonly target: { readonly value: string } }) => onChange(e.target.value),
    },
  };
}

export function TextField(props: Bound<string, Omit<ComponentProps<'input'>, 'children'>>) {
  const { field, control } = bind(props);
  return <Field {...field}>{(c) => <input {...control} {...c} />}</Field>;
}

export function TextAreaField(props: Bound<string, Omit<ComponentProps<'textarea'>, 'children'>>) {
  const { field, control } = bind(props);
  return <Field {...field}>{(c) => <textarea {...control} {...c} />}</Field>;
}

/** A labelled select; its options are the children (`Options` makes them from pairs). */
export function SelectField(props: Bound<string | number, ComponentProps<'select'>>) {
  const { field, control } = bind(props);
  return <Field {...field}>{(c) => <select {...control} {...c} />}</Field>;
}

/** A checkbox inside its label, with a note on what it does. */
export function CheckField(props: {
  readonly label: string;
  readonly note: string;
  readonly checked: boolean;
  readonly onChange: (checked: boolean) => void;
}) {
  return (
    <label className="check">
      <input
        type="checkbox"
        checked={props.checked}
        onChange={(e) => props.onChange(e.target.checked)}
      />{' '}
      {props.label}
      <span className="muted small">{` — ${props.note}`}</span>
    </label>
  );
}

/** `<option>`s from [value, text] pairs. */
export function Options(props: {
  readonly list: ReadonlyArray<readonly [string | number, string]>;
}) {
  return (
    <>
      {props.list.map(([value, text]) => (
        <option key={value} value={value}>
          {text}
        </option>
      ))}
    </>
  );
}

const Pending = createContext(false);

/**
 * A form that runs `onSubmit` in the page instead of navigating (after the browser's own checks:
 * required, pattern, length). While `busy`, its SubmitButtons are disabled.
 */
export function Form(props: {
  readonly onSubmit: () => unknown;
  readonly busy?: boolean;
  readonly className?: string;
  readonly 'aria-label'?: string;
  readonly children: ReactNode;
}) {
  return (
    <form
      className={props.className}
      aria-label={props['aria-label']}
      onSubmit={(e) => {
        e.preventDefault();
        void props.onSubmit();
      }}
    >
      <Pending.Provider value={props.busy ?? false}>{props.children}</Pending.Provider>
    </form>
  );
}

/** The submit button of the Form around it, disabled while that form is busy. */
export function SubmitButton(props: {
  readonly primary?: boolean;
  readonly disabled?: boolean;
  readonly children: ReactNode;
}) {
  const pending = useContext(Pending);
  return (
    <button
      type="submit"
      className={props.primary ? 'primary' : undefined}
      disabled={pending || props.disabled}
    >
      {props.children}
    </button>
  );
}

/**
 * A dialog holding one form that makes one admin change: Cancel, a submit button that waits for
 * the change, and the outcome said inside the dialog (the modal covers the page's notices).
 */
export function FormDialog(props: {
  readonly title: string;
  /** The submit button's text ("Add user"). */
  readonly submit: string;
  readonly onClose: () => void;
  /** Makes the change; resolves to what to say once it worked (null: nothing). */
  readonly onSubmit: () => Promise<string | null>;
  /** Once the change worked, close and say its outcome on the page instead. */
  readonly closeOnDone?: boolean;
  readonly children: ReactNode;
}) {
  const { busy, said, run } = useAction({ inline: true });
  const say = useSay();
  const { onClose, onSubmit, closeOnDone } = props;
  const submit = async () => {
    let done: string | null = null;
    const ok = await run(async () => {
      done = await onSubmit();
      return closeOnDone ? null : done;
    });
    if (!ok || !closeOnDone) return;
    onClose();
    if (done) say('ok', done);
  };
  return (
    <Dialog title={props.title} onClose={onClose}>
      <Form busy={busy} onSubmit={submit}>
        {props.children}
        <Said said={said} />
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <SubmitButton primary>{props.submit}</SubmitButton>
        </div>
      </Form>
    </Dialog>
  );
}
