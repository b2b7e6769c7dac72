/**
 * The console's form pieces, rendered to markup: labels point at their controls, hints and
 * errors are tied to them with aria-describedby, errors mark the control invalid, and submit
 * buttons follow their form's pending state. (Behaviour in a browser: e2e/ui/admin-console.)
 */
import type { ReactNode } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { LoadStatus, Table } from './controls.js';
import { ConfirmButton } from './Dialog.js';
import {
  CheckField,
  Form,
  FormDialog,
  Options,
  SelectField,
  SubmitButton,
  TextAreaField,
  TextField,
} from './forms.js';

const noop = () => undefined;

/** Every element `tag` in `html`, as its attributes (entities left as they are). */
function elements(html: string, tag: string): Array<Record<string, string>> {
  return [...html.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'g'))].map((m) =>
    Object.fromEntries(
      [...(m[1] ?? '').matchAll(/([\w:-]+)(?:="([^"]*)")?/g)].map((a) => [a[1], a[2] ?? '']),
    ),
  );
}

function one(html: string, tag: string): Record<string, string> {
  const all = elements(html, tag);
  expect(all).toHaveLength(1);
  return all[0]!;
}

/** The text of the element with this id. */
function textOf(html: string, id: string): string | undefined {
  const m = new RegExp(`id="${id.replace(/[^\w]/g, '\\$&')}"[^>]*>([^<]*)<`).exec(html);
  return m?.[1];
}

const render = (node: ReactNode) => renderToStaticMarkup(node);

describe('TextField', () => {
  it('labels its input, and describes it by nothing when there is no hint or error', () => {
    const html = render(<TextField label="Email" type="email" value="a@b.c" onChange={noop} />);
    const input = one(html, 'input');
    expect(input.id).toBeTruthy();
    expect(one(html, 'label').for).toBe(input.id);
    expect(input.type).toBe('email');
    expect(input.value).toBe('a@b.c');
    expect(input['aria-describedby']).toBeUndefined();
    expect(input['aria-invalid']).toBeUndefined();
  });

  it('ties the hint to the input', () => {
    const html = render(<TextField label="Name" hint="Optional." value="" onChange={noop} />);
    const input = one(html, 'input');
    expect(input['aria-describedby']).toBeTruthy();
    expect(textOf(html, input['aria-describedby']!)).toBe('Optional.');
  });

  it('shows an error, marks the input invalid and describes it by the error, then the hint', () => {
    const html = render(
      <TextField label="Name" hint="Optional." error="Too long." value="x" onChange={noop} />,
    );
    const input = one(html, 'input');
    expect(input['aria-invalid']).toBe('true');
    const [errorId, hintId, ...rest] = input['aria-describedby']!.split(' ');
    expect(rest).toEqual([]);
    expect(textOf(html, errorId!)).toBe('Too long.');
    expect(textOf(html, hintId!)).toBe('Optional.');
  });

  it('keeps ids apart between fields', () => {
    const html = render(
      <>
        <TextField label="A" hint="a" value="" onChange={noop} />
        <TextField label="B" hint="b" value="" onChange={noop} />
      </>,
    );
    const [a, b] = elements(html, 'input');
    expect(a!.id).not.toBe(b!.id);
    expect(a!['aria-describedby']).not.toBe(b!['aria-describedby']);
  });
});

describe('TextAreaField and SelectField', () => {
  it('label a text area, passing its own attributes through', () => {
    const html = render(
      <TextAreaField label="Nameservers" rows={3} error="Line 1: bad" value="" onChange={noop} />,
    );
    const area = one(html, 'textarea');
    expect(one(html, 'label').for).toBe(area.id);
    expect(area.rows).toBe('3');
    expect(area['aria-invalid']).toBe('true');
  });

  it('label a select whose options come from pairs, with the current one selected', () => {
    const html = render(
      <SelectField label="Expires after" value={7} onChange={noop}>
        <Options
          list={[
            [1, '1 day'],
            [7, '7 days'],
          ]}
        />
      </SelectField>,
    );
    expect(one(html, 'label').for).toBe(one(html, 'select').id);
    const options = elements(html, 'option');
    expect(options.map((o) => o.value)).toEqual(['1', '7']);
    expect(options.map((o) => 'selected' in o)).toEqual([false, true]);
  });
});

describe('CheckField', () => {
  it('puts the checkbox inside its label, with the note', () => {
    const html = render(
      <CheckField label="Reusable" note="any number of devices" checked onChange={noop} />,
    );
    expect(html).toMatch(/^<label class="check"><input type="checkbox" checked=""\/> Reusable/);
    expect(html).toContain(' — any number of devices</span></label>');
  });
});

describe('Form and SubmitButton', () => {
  it('disable the submit button while the form is busy', () => {
    const idle = one(
      render(
        <Form onSubmit={noop}>
          <SubmitButton>Save</SubmitButton>
        </Form>,
      ),
      'button',
    );
    expect(idle.type).toBe('submit');
    expect('disabled' in idle).toBe(false);
    const busy = one(
      render(
        <Form busy onSubmit={noop}>
          <SubmitButton primary>Save</SubmitButton>
        </Form>,
      ),
      'button',
    );
    expect('disabled' in busy).toBe(true);
    expect(busy.class).toBe('primary');
  });

  it('disable the submit button when told to, even when idle', () => {
    const html = render(
      <Form onSubmit={noop}>
        <SubmitButton disabled>Rename</SubmitButton>
      </Form>,
    );
    expect('disabled' in one(html, 'button')).toBe(true);
  });
});

describe('FormDialog', () => {
  it('is a dialog named by its title, with Cancel and an enabled submit button', () => {
    const html = render(
      <FormDialog title="Add a user" submit="Add user" onClose={noop} onSubmit={async () => null}>
        <TextField label="Email" value="" onChange={noop} />
      </FormDialog>,
    );
    const dialog = one(html, 'dialog');
    expect(textOf(html, dialog['aria-labelledby']!)).toBe('Add a user');
    const buttons = elements(html, 'button');
    expect(buttons.map((b) => b.type)).toEqual(['button', 'submit']);
    expect(buttons.some((b) => 'disabled' in b)).toBe(false);
    expect(html).toContain('>Cancel</button>');
    expect(html).toContain('>Add user</button>');
    // Where the outcome is said: a polite status and an alert.
    expect(elements(html, 'div').filter((d) => d.role === 'status')).toHaveLength(1);
    expect(elements(html, 'div').filter((d) => d.role === 'alert')).toHaveLength(1);
  });
});

describe('ConfirmButton', () => {
  it('is a plain button carrying its name and state', () => {
    const html = render(
      <ConfirmButton
        className="danger"
        disabled
        aria-label="Delete bob"
        confirm={{ title: 'Delete bob?', body: 'Gone.', action: 'Delete user', danger: true }}
        onConfirmed={noop}
      >
        Delete
      </ConfirmButton>,
    );
    expect(one(html, 'button')).toEqual({
      type: 'button',
      class: 'danger',
      disabled: '',
      'aria-label': 'Delete bob',
    });
  });
});

describe('Table', () => {
  it('captions the table, scopes its headers and names the buttons column for screen readers', () => {
    const html = render(
      <Table caption="Users" columns={['User', 'Role']} actions="Actions" empty="No user matches.">
        {null}
      </Table>,
    );
    expect(html).toContain('<caption class="visually-hidden">Users</caption>');
    expect(elements(html, 'th').map((t) => t.scope)).toEqual(['col', 'col', 'col']);
    expect(html).toContain('<th scope="col"><span class="visually-hidden">Actions</span></th>');
    expect(html).toContain('<p class="empty">No user matches.</p>');
  });

  it('has no buttons column or empty line unless asked', () => {
    const html = render(
      <Table caption="Audit" columns={['Time']} empty={false}>
        <tr>
          <td>now</td>
        </tr>
      </Table>,
    );
    expect(elements(html, 'th')).toHaveLength(1);
    expect(html).not.toContain('class="empty"');
  });
});

describe('LoadStatus', () => {
  const load = (over: object) => ({
    data: null,
    error: null,
    loading: false,
    reload: noop,
    ...over,
  });

  it('says a failure as an alert with a way to try again', () => {
    const html = render(<LoadStatus load={load({ error: 'Cannot reach the control server.' })} />);
    expect(html).toContain('role="alert"');
    expect(html).toContain('Could not load: Cannot reach the control server.');
    expect(html).toContain('>Try again</button>');
  });

  it('says loading only while there is nothing to show yet', () => {
    expect(render(<LoadStatus load={load({ loading: true })} />)).toContain('role="status"');
    expect(render(<LoadStatus load={load({ loading: true, data: [] })} />)).toBe('');
    expect(render(<LoadStatus load={load({})} />)).toBe('');
  });
});
