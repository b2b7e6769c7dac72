/**
 * The console: asks control who its cookie belongs to, then shows the sign-in page, the refusal
 * for members, or the pages for owners and admins. A 401 from any call means the session ended:
 * back to sign-in, saying so.
 */
import { useCallback, useEffect, useState } from 'react';
import type { MouseEvent } from 'react';
import {
  CONSOLE_PATH,
  CONSOLE_SESSION_PATH,
  CONSOLE_SIGNOUT_PATH,
  ConsoleSession,
  ConsoleSignInNotice,
} from '../../shared/schema/control/console.js';
import { applyTheme, savedTheme, type Theme } from '../../web-ui/theme.js';
import { describeError, Empty, request, setSessionEndedHandler } from './api.js';
import { ConfirmProvider } from './components/Dialog.js';
import { NoticeProvider } from './components/notices.js';
import { PAGES, pathOfPage, usePage, type PageId } from './router.js';
import { SessionContext, type SignedIn } from './session.js';
import { SignIn, type SignInNotice } from './views/SignIn.js';
import { Devices } from './views/Devices.js';
import { Routes } from './views/Routes.js';
import { Users } from './views/Users.js';
import { Keys } from './views/Keys.js';
import { Policy } from './views/Policy.js';
import { Settings } from './views/Settings.js';
import { Audit } from './views/Audit.js';

type SessionView =
  { state: 'loading' } | { state: 'unreachable'; message: string } | ConsoleSession;

/** `?signin=<notice>` from control's redirects, read once and removed from the address bar. */
function takeSignInNotice(): SignInNotice | null {
  const url = new URL(window.location.href);
  const n = ConsoleSignInNotice.safeParse(url.searchParams.get('signin'));
  if (!url.searchParams.has('signin')) return null;
  url.searchParams.delete('signin');
  window.history.replaceState(null, '', url.pathname + url.search);
  return n.success ? n.data : 'expired';
}

async function fetchSession(): Promise<SessionView> {
  try {
    return await request(ConsoleSession, 'GET', CONSOLE_SESSION_PATH);
  } catch (e) {
    return { state: 'unreachable', message: describeError(e) };
  }
}

export function App() {
  const [session, setSession] = useState<SessionView>({ state: 'loading' });
  const [notice, setNotice] = useState<SignInNotice | null>(takeSignInNotice);

  const refresh = useCallback(() => fetchSession().then(setSession), []);

  useEffect(() => {
    setSessionEndedHandler(() => {
      setNotice('session-ended');
      void fetchSession().then(setSession);
    });
    void fetchSession().then(setSession);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await request(Empty, 'POST', CONSOLE_SIGNOUT_PATH);
      setNotice('signed-out');
    } catch (e) {
      setSession({ state: 'unreachable', message: describeError(e) });
      return;
    }
    await refresh();
  }, [refresh]);

  switch (session.state) {
    case 'loading':
      return (
        <main className="center" aria-busy="true">
          <p role="status">Loading the admin console…</p>
        </main>
      );
    case 'unreachable':
      return (
        <main className="center">
          <div className="card narrow" role="alert">
            <h1>Cannot reach Trellis control</h1>
            <p>{session.message}</p>
            <button type="button" className="primary" onClick={() => void refresh()}>
              Try again
            </button>
          </div>
        </main>
      );
    case 'signed-out':
      return <SignIn session={session} notice={notice} />;
    case 'refused':
      return (
        <main className="center">
          <div className="card narrow" role="alert" aria-labelledby="refused-title">
            <h1 id="refused-title">Admin access required</h1>
            <p>
              You are signed in as <strong>{session.user.email ?? session.user.name}</strong>, a{' '}
              {session.user.role} of {session.network.name}. The admin console is for owners and
              admins: ask an owner for the admin role, or sign in with another account.
            </p>
            <button type="button" className="primary" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        </main>
      );
    case 'signed-in':
      return (
        <SessionContext.Provider value={session}>
          <NoticeProvider>
            <ConfirmProvider>
              <Shell session={session} onSignOut={signOut} />
            </ConfirmProvider>
          </NoticeProvider>
        </SessionContext.Provider>
      );
  }
}

function Shell(props: { readonly session: SignedIn; readonly onSignOut: () => Promise<void> }) {
  const [page, navigate] = usePage();
  const [theme, setTheme] = useState<Theme>(savedTheme);
  const title = PAGES.find((p) => p.id === page)?.title ?? 'Not found';
  useEffect(() => {
    document.title = `${title} · ${props.session.network.name} · Trellis admin`;
  }, [title, props.session.network.name]);
  const follow = (id: PageId) => (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(id);
  };
  const user = props.session.user;
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <div className="brand">
          <span className="logo" aria-hidden="true" />
          <span>
            <strong>{props.session.network.name}</strong>
            <span className="muted"> · Trellis admin</span>
          </span>
        </div>
        <div className="top-actions">
          <label className="theme-pick">
            <span className="visually-hidden">Theme</span>
            <select
              value={theme}
              onChange={(e) => {
                const t = e.target.value as Theme;
                applyTheme(t);
                setTheme(t);
              }}
            >
              <option value="system">System theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          <span className="who" title={user.email ?? user.name}>
            {user.email ?? user.name} <span className="muted">({user.role})</span>
          </span>
          <button type="button" onClick={() => void props.onSignOut()}>
            Sign out
          </button>
        </div>
      </header>
      <div className="body">
        <nav aria-label="Admin console" className="side">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a
                  href={pathOfPage(p.id)}
                  aria-current={p.id === page ? 'page' : undefined}
                  onClick={follow(p.id)}
                >
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="content" tabIndex={-1}>
          <PageView page={page} />
        </main>
      </div>
    </div>
  );
}

function PageView(props: { readonly page: PageId | null }) {
  switch (props.page) {
    case 'devices':
      return <Devices />;
    case 'routes':
      return <Routes />;
    case 'users':
      return <Users />;
    case 'keys':
      return <Keys />;
    case 'policy':
      return <Policy />;
    case 'settings':
      return <Settings />;
    case 'audit':
      return <Audit />;
    case null:
      return (
        <div className="card">
          <h1>Page not found</h1>
          <p>
            There is no such page in the admin console. <a href={CONSOLE_PATH}>Go to devices</a>.
          </p>
        </div>
      );
  }
}
