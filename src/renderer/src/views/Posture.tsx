/** Posture: each device check control evaluated, pass or fail, and what to do about a failure. */
import type { AppState } from '../../../shared/schema/ipc.js';
import { Section } from '../components/controls.js';

/** General advice per check kind, shown under control's own reason. */
const ADVICE: Readonly<Record<string, string>> = {
  'min-client-version': 'Update Trellis to the latest release.',
  'min-os-version': 'Install your operating system’s updates.',
  geolocation: 'Connect from a location your network allows.',
  'local-network': 'Connect from a network your administrators allow (for example the office LAN).',
  process:
    'Start the application your administrators require (for example the endpoint protection agent).',
};

export function Posture({ app }: { readonly app: AppState }) {
  const failing = app.posture.filter((p) => !p.passed).length;
  return (
    <Section title="Device posture">
      {app.posture.length === 0 ? (
        <p className="muted">Your network checks nothing about this device.</p>
      ) : (
        <>
          <p role="status">
            {failing === 0
              ? `All ${app.posture.length} checks pass.`
              : `${failing} of ${app.posture.length} checks fail: some peers may be unreachable until they pass.`}
          </p>
          <ul className="plain posture" aria-label="Posture checks">
            {app.posture.map((p) => (
              <li key={p.check} className={p.passed ? 'pass' : 'fail'}>
                <span className="badge" aria-hidden="true">
                  {p.passed ? '✓' : '✗'}
                </span>
                <div>
                  <strong>{p.check}</strong> <span className="muted small">({p.kind})</span>{' '}
                  <span className={p.passed ? 'ok' : 'error-text'}>
                    {p.passed ? 'passes' : 'fails'}
                  </span>
                  {!p.passed && (
                    <>
                      {p.reason && <p>{p.reason}</p>}
                      {ADVICE[p.kind] && <p className="muted">What to do: {ADVICE[p.kind]}</p>}
                    </>
                  )}
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}
