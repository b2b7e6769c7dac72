/**
 * Access policy: edit the HuJSON document, save it (control validates it and runs its tests
 * first; problems come back with line and column, and jump the editor there), see the version
 * history, view any version and roll back to it.
 */
import { useCallback, useId, useRef, useState } from 'react';
import { PolicyDocument, PolicyVersionInfo } from '../../../shared/schema/control/admin.js';
import { ConsoleApiError, listAll, request, type PolicyProblem } from '../api.js';
import { Badge, LoadStatus, PageHeader, Section, Table } from '../components/controls.js';
import { Dialog, useConfirm } from '../components/Dialog.js';
import { Form, SubmitButton, TextField } from '../components/forms.js';
import { useAction, useSay } from '../components/notices.js';
import { useLoad } from '../components/useLoad.js';
import { actorText, dateTime } from '../format.js';
import { countPolicyTests, offsetOf, problemLocation } from '../policy-text.js';

type Outcome =
  | { type: 'saved'; version: number; tests: number | null; rolledBackFrom?: number }
  | { type: 'refused'; message: string; problems: readonly PolicyProblem[] }
  | { type: 'conflict'; message: string };

function savedText(o: Extract<Outcome, { type: 'saved' }>): string {
  const what = o.rolledBackFrom
    ? `Rolled back to version ${o.rolledBackFrom}, saved as version ${o.version}.`
    : `Saved version ${o.version}.`;
  if (o.tests === null || o.tests === 0) return `${what} The policy declares no tests.`;
  return `${what} ${o.tests} policy test${o.tests === 1 ? '' : 's'} passed.`;
}

/** 1-based line and column of an offset, for the caret indicator. */
function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

export function Policy() {
  const loadPolicy = useCallback(() => request(PolicyDocument, 'GET', '/v1/admin/policy'), []);
  const policy = useLoad(loadPolicy);
  const loadVersions = useCallback(
    () => listAll(PolicyVersionInfo, '/v1/admin/policy/versions', 200),
    [],
  );
  const versions = useLoad(loadVersions);
  const [draft, setDraft] = useState<string | null>(null);
  const [comment, setComment] = useState('');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [caret, setCaret] = useState({ line: 1, column: 1 });
  const [viewing, setViewing] = useState<number | null>(null);
  const editor = useRef<HTMLTextAreaElement>(null);
  const editorId = useId();
  const { busy, run } = useAction();
  const say = useSay();
  const confirm = useConfirm();

  const current = policy.data;
  const text = draft ?? current?.policy ?? '';
  const dirty = current !== null && draft !== null && draft !== current.policy;

  const reloadAll = () => {
    policy.reload();
    versions.reload();
  };

  const refusal = (e: unknown): Outcome => {
    if (e instanceof ConsoleApiError && e.code === 'conflict')
      return { type: 'conflict', message: e.message };
    if (e instanceof ConsoleApiError && e.code === 'bad_request')
      return { type: 'refused', message: e.message, problems: e.problems };
    throw e;
  };

  const save = async () => {
    if (!current) return;
    setOutcome(null);
    await run(async () => {
      try {
        const saved = await request(PolicyDocument, 'PUT', '/v1/admin/policy', {
          policy: text,
          ifMatch: current.etag,
          ...(comment.trim() ? { comment: comment.trim() } : {}),
        });
        setOutcome({ type: 'saved', version: saved.version, tests: countPolicyTests(text) });
        setComment('');
        setDraft(saved.policy);
        reloadAll();
        return null;
      } catch (e) {
        setOutcome(refusal(e));
        return null;
      }
    });
  };

  const rollback = async (version: number) => {
    if (!current) return;
    const yes = await confirm({
      title: `Roll back to version ${version}?`,
      body: dirty
        ? 'Its text is saved as a new version and applies to every device at once. Your unsaved edits are discarded.'
        : 'Its text is saved as a new version and applies to every device at once.',
      action: 'Roll back',
    });
    if (!yes) return;
    setOutcome(null);
    await run(async () => {
      try {
        const saved = await request(PolicyDocument, 'POST', '/v1/admin/policy/rollback', {
          version,
          ifMatch: current.etag,
        });
        setOutcome({
          type: 'saved',
          version: saved.version,
          tests: countPolicyTests(saved.policy),
          rolledBackFrom: version,
        });
        setDraft(saved.policy);
        setViewing(null);
        reloadAll();
        return null;
      } catch (e) {
        setOutcome(refusal(e));
        return null;
      }
    });
  };

  const jumpTo = (p: PolicyProblem) => {
    const el = editor.current;
    if (!el || p.line === undefined) return;
    const at = offsetOf(text, p.line, p.column ?? 1);
    el.focus();
    el.setSelectionRange(at, Math.min(at + 1, text.length));
    setCaret(positionOf(text, at));
  };

  const trackCaret = () => {
    const el = editor.current;
    if (el) setCaret(positionOf(el.value, el.selectionStart));
  };

  return (
    <>
      <PageHeader
        title="Access policy"
        description="Who may reach what: groups, tag owners, ACL rules, postures, auto-approvers and tests, as HuJSON (JSON with comments and trailing commas)."
      />
      <LoadStatus load={policy} />
      {current && (
        <Section
          title={
            current.version === 0
              ? 'Policy (built-in default, never saved)'
              : `Policy, version ${current.version}`
          }
          actions={dirty ? <Badge tone="warn">Unsaved changes</Badge> : undefined}
        >
          <Form busy={busy} onSubmit={save}>
            <label htmlFor={editorId} className="visually-hidden">
              Policy document (HuJSON)
            </label>
            <textarea
              id={editorId}
              ref={editor}
              className="code"
              spellCheck={false}
              autoCapitalize="off"
              autoCorrect="off"
              rows={24}
              value={text}
              aria-describedby={`${editorId}-caret`}
              aria-invalid={outcome?.type === 'refused' ? true : undefined}
              onChange={(e) => {
                setDraft(e.target.value);
                trackCaret();
              }}
              onSelect={trackCaret}
              onKeyDown={(e) => {
                if ((e.ctrlKey || e.metaKey) && e.key === 's') {
                  e.preventDefault();
                  void save();
                }
              }}
            />
            <p id={`${editorId}-caret`} className="muted small caret">
              Line {caret.line}, column {caret.column}
            </p>
            <div className="inline-form">
              <TextField
                label="Comment"
                hint="Why, kept with the version (optional)."
                value={comment}
                maxLength={128}
                onChange={setComment}
              />
              <SubmitButton primary>Save policy</SubmitButton>
              <button
                type="button"
                disabled={busy || !dirty}
                onClick={() => {
                  setDraft(null);
                  setOutcome(null);
                }}
              >
                Discard changes
              </button>
            </div>
          </Form>
          <PolicyOutcome
            outcome={outcome}
            onJump={jumpTo}
            onReload={() => {
              setDraft(null);
              setOutcome(null);
              policy.reload();
              versions.reload();
              say('ok', 'Loaded the saved policy.');
            }}
          />
        </Section>
      )}
      <Section title="Version history">
        <LoadStatus load={versions} />
        {versions.data && versions.data.items.length === 0 && (
          <p className="empty">
            No version saved yet: the built-in default policy applies (everyone may reach
            everything).
          </p>
        )}
        {versions.data && versions.data.items.length > 0 && (
          <Table
            caption="Policy versions, newest first"
            columns={['Version', 'Saved', 'By', 'Comment']}
            actions="Actions"
          >
            {versions.data.items.map((v) => (
              <tr key={v.version} data-version={v.version}>
                <th scope="row">
                  {v.version} {v.active && <Badge tone="ok">in force</Badge>}
                </th>
                <td>{dateTime(v.createdAt)}</td>
                <td>{actorText(v.createdBy)}</td>
                <td>
                  {v.comment}
                  {v.rolledBackFrom !== null && (
                    <span className="muted small block">
                      rollback to version {v.rolledBackFrom}
                    </span>
                  )}
                </td>
                <td className="actions">
                  <button
                    type="button"
                    aria-label={`View version ${v.version}`}
                    onClick={() => setViewing(v.version)}
                  >
                    View
                  </button>
                  {!v.active && (
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={`Roll back to version ${v.version}`}
                      onClick={() => void rollback(v.version)}
                    >
                      Roll back
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Section>
      {viewing !== null && (
        <VersionDialog
          version={viewing}
          onClose={() => setViewing(null)}
          onRollback={current && viewing !== current.version ? () => void rollback(viewing) : null}
        />
      )}
    </>
  );
}

function PolicyOutcome(props: {
  readonly outcome: Outcome | null;
  readonly onJump: (p: PolicyProblem) => void;
  readonly onReload: () => void;
}) {
  const o = props.outcome;
  if (!o) return null;
  switch (o.type) {
    case 'saved':
      return (
        <p className="notice ok" role="status">
          {savedText(o)}
        </p>
      );
    case 'conflict':
      return (
        <div className="notice error" role="alert">
          <p>{o.message}</p>
          <button type="button" onClick={props.onReload}>
            Load the saved policy (discards your edits)
          </button>
        </div>
      );
    case 'refused':
      return (
        <div className="notice error problems" role="alert">
          <p>
            <strong>Not saved.</strong>{' '}
            {o.problems.length > 0
              ? `The policy has ${o.problems.length} problem${o.problems.length === 1 ? '' : 's'}:`
              : o.message}
          </p>
          <ul>
            {o.problems.map((p, i) => {
              const where = problemLocation(p);
              return (
                <li key={i}>
                  {where ? (
                    <button type="button" className="link" onClick={() => props.onJump(p)}>
                      {where}
                    </button>
                  ) : null}
                  {where ? ': ' : ''}
                  {p.message}
                </li>
              );
            })}
          </ul>
        </div>
      );
  }
}

function VersionDialog(props: {
  readonly version: number;
  readonly onClose: () => void;
  readonly onRollback: (() => void) | null;
}) {
  const load = useCallback(
    () => request(PolicyDocument, 'GET', `/v1/admin/policy/versions/${props.version}`),
    [props.version],
  );
  const doc = useLoad(load);
  const id = useId();
  return (
    <Dialog title={`Policy version ${props.version}`} onClose={props.onClose} wide>
      {doc.error && <p role="alert">Could not load: {doc.error}</p>}
      {doc.data && (
        <>
          <label htmlFor={id} className="visually-hidden">
            Text of version {props.version}
          </label>
          <textarea
            id={id}
            className="code"
            readOnly
            rows={20}
            value={doc.data.policy}
            spellCheck={false}
          />
        </>
      )}
      <div className="dialog-actions">
        {props.onRollback && (
          <button type="button" onClick={props.onRollback}>
            Roll back to this version
          </button>
        )}
        <button type="button" className="primary" onClick={props.onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
