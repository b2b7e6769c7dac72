/** The app shell: header, section navigation, the current view, and status messages. */
import { useEffect } from 'react';
import type { AppState, View } from '../../shared/schema/ipc.js';
import { Section } from './components/controls.js';
import { connectionTitle } from './format.js';
import { startIpc, useUi } from './store.js';
import { applyTheme, savedTheme } from '../../web-ui/theme.js';
import { Diagnostics } from './views/Diagnostics.js';
import { ExitNodes } from './views/ExitNodes.js';
import { Home } from './views/Home.js';
import { Peers } from './views/Peers.js';
import { Posture } from './views/Posture.js';
import { Routes } from './views/Routes.js';
import { Settings } from './views/Settings.js';
import { SignIn } from './views/SignIn.js';

const NAV: readonly { readonly view: View; readonly label: string; readonly needsMesh: boolean }[] =
  [
    { view: 'home', label: 'Home', needsMesh: false },
    { view: 'peers', label: 'Peers', needsMesh: true },
    { view: 'exit-node', label: 'Exit node', needsMesh: true },
    { view: 'routes', label: 'Routes', needsMesh: true },
    { view: 'posture', label: 'Posture', needsMesh: true },
    { view: 'diagnostics', label: 'Diagnostics', needsMesh: false },
    { view: 'settings', label: 'Settings', needsMesh: false },
  ];

function HelperUnavailable({ app }: { readonly app: AppState }) {
  const c = app.connection;
  if (c.state !== 'helper-unavailable') return null;
  return (
    <Section title="The Trellis helper is not available">
      <p role="alert">{c.hint}</p>
      <p className="muted small">This page reconnects by itself as soon as the helper answers.</p>
    </Section>
  );
}

function CurrentView({ app, view }: { readonly app: AppState; readonly view: View }) {
  if (app.connection.state === 'helper-unavailable') return <HelperUnavailable app={app} />;
  const signedOut = app.self === null && app.connection.state === 'needs-login';
  if (signedOut && view !== 'settings' && view !== 'diagnostics') return <SignIn app={app} />;
  switch (view) {
    case 'home':
      return <Home app={app} />;
    case 'peers':
      return <Peers app={app} />;
    case 'exit-node':
      return <ExitNodes app={app} />;
    case 'routes':
      return <Routes app={app} />;
    case 'posture':
      return <Posture app={app} />;
    case 'settings':
      return <Settings app={app} />;
    case 'diagnostics':
      return <Diagnostics app={app} />;
    case 'sign-in':
      return <SignIn app={app} />;
  }
}

export function App() {
  const app = useUi((s) => s.app);
  const view = useUi((s) => s.view);
  const link = useUi((s) => s.link);
  const toast = useUi((s) => s.toast);
  const toastView = toast?.view;
  const navigate = useUi((s) => s.navigate);
  useEffect(() => {
    applyTheme(savedTheme());
    startIpc();
  }, []);
  const meshUsable =
    app !== null && app.self !== null && app.connection.state !== 'helper-unavailable';
  return (
    <div className="app">
      <header className="top">
        <h1>Trellis</h1>
        {app && (
          <span className={`pill pill-${app.connection.state}`} data-testid="header-state">
            {connectionTitle(app.connection)}
          </span>
        )}
      </header>
      {link.status === 'closed' && (
        <p className="banner" role="alert">
          Lost the connection to the Trellis app{link.detail ? ` (${link.detail})` : ''};
          reconnecting…
        </p>
      )}
      <nav aria-label="Sections" className="tabs">
        {NAV.filter((n) => meshUsable || !n.needsMesh).map((n) => (
          <button
            key={n.view}
            type="button"
            aria-current={view === n.view ? 'page' : undefined}
            onClick={() => navigate(n.view)}
          >
            {n.label}
          </button>
        ))}
      </nav>
      <main className={view === 'peers' ? 'main fill' : 'main'}>
        {app ? <CurrentView app={app} view={view} /> : <p role="status">Connecting to Trellis…</p>}
      </main>
      <div
        className={`toast${toast ? ` toast-${toast.kind}` : ''}`}
        role="status"
        aria-live="polite"
      >
        {toast?.text}
        {toastView && (
          <button type="button" className="toast-action" onClick={() => navigate(toastView)}>
            Open
          </button>
        )}
      </div>
    </div>
  );
}
