/** Sign-in: the control server, an SSO button, and progress while the sign-in window is open. */
import { useState } from 'react';
import type { AppState } from '../../../shared/schema/ipc.js';
import { HttpUrl } from '../../../shared/schema/common.js';
import { Section } from '../components/controls.js';
import { useUi } from '../store.js';

function Progress({ app }: { readonly app: AppState }) {
  const ipc = useUi((s) => s.ipc);
  const p = app.login ?? { state: 'idle' };
  switch (p.state) {
    case 'idle':
      return null;
    case 'starting':
      return <p role="status">Contacting {p.controlUrl}…</p>;
    case 'waiting':
      return (
        <div role="status">
          {ipc?.host === 'electron' ? (
            <p>Finish signing in in the window that opened.</p>
          ) : (
            <p>
              <a href={p.url} target="_blank" rel="noopener noreferrer" className="button primary">
                Open the sign-in page
              </a>{' '}
              and finish signing in there; this page follows along.
            </p>
          )}
          <button type="button" onClick={() => ipc?.client.account.cancelLogin()}>
            Cancel
          </button>
        </div>
      );
    case 'registering':
      return <p role="status">Signed in. Registering this device…</p>;
    case 'failed':
      return (
        <p role="alert" className="error-text">
          {p.message}
        </p>
      );
  }
}

export function SignIn({ app }: { readonly app: AppState }) {
  const ipc = useUi((s) => s.ipc);
  const run = useUi((s) => s.run);
  const say = useUi((s) => s.say);
  const [controlUrl, setControlUrl] = useState(app.prefs?.controlUrl ?? '');
  const [error, setError] = useState<string | null>(null);
  const busy =
    app.login?.state === 'starting' ||
    app.login?.state === 'waiting' ||
    app.login?.state === 'registering';
  const signedIn = app.self !== null;
  return (
    <Section title={signedIn ? 'Switch account' : 'Sign in'}>
      {signedIn && app.account && (
        <p>
          Signed in as {app.account.user.email ?? app.account.user.name}. Signing in again replaces
          this account on this device.
        </p>
      )}
      <form
        className="stack"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!ipc) return;
          const url = HttpUrl.safeParse(controlUrl.trim());
          if (!url.success) {
            setError(
              'Enter the address of your Trellis control server, such as https://trellis.example.com',
            );
            return;
          }
          setError(null);
          const r = await run('Signing in', () =>
            ipc.client.account.login({ controlUrl: url.data }),
          );
          if (r?.outcome === 'complete') say('info', `Signed in as ${r.user.email ?? r.user.name}`);
        }}
      >
        <label htmlFor="control-url">Control server</label>
        <input
          id="control-url"
          type="url"
          required
          value={controlUrl}
          aria-invalid={error !== null}
          aria-describedby={error ? 'control-url-error' : undefined}
          onChange={(e) => setControlUrl(e.target.value)}
          disabled={busy}
        />
        {error && (
          <p id="control-url-error" role="alert" className="error-text">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={!ipc || busy}>
          Sign in with SSO
        </button>
      </form>
      <Progress app={app} />
    </Section>
  );
}
