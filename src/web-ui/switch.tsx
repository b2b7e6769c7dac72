/**
 * An on/off switch shared by the desktop UI and the admin console: a button with role="switch",
 * named by its label, so screen readers and tests see its state.
 */
import { useId } from 'react';

export function Switch(props: {
  readonly label: string;
  readonly checked: boolean;
  readonly disabled?: boolean;
  readonly description?: string;
  readonly onChange: (next: boolean) => void;
}) {
  const id = useId();
  return (
    <div className="switch-row">
      <div>
        <span id={`${id}-label`} className="switch-label">
          {props.label}
        </span>
        {props.description && (
          <p id={`${id}-desc`} className="muted small">
            {props.description}
          </p>
        )}
      </div>
      <button
        type="button"
        role="switch"
        aria-checked={props.checked}
        aria-labelledby={`${id}-label`}
        aria-describedby={props.description ? `${id}-desc` : undefined}
        disabled={props.disabled}
        className="switch"
        onClick={() => props.onChange(!props.checked)}
      >
        <span className="knob" aria-hidden="true" />
      </button>
    </div>
  );
}
