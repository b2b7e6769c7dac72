/**
 * The signed-out console: links that start a sign-in through control's login pages (the
 * password form, or the configured single sign-on provider), and why the user is here again.
 */
import {
  CONSOLE_SIGNIN_PATH,
  type ConsoleSession,
  type ConsoleSignInMethod,
  type ConsoleSignInNotice,
} from '../../../shared/schema/control/console.js';

export type SignInNotice = ConsoleSignInNotice | 'session-ended' | 'signed-out';

const NOTICES: Readonly<Record<SignInNotice, { text: string; error: boolean }>> = {
  expired: {
    text: 'That sign-in did not finish in time, or was already used. Sign in again.',
    error: true,
  },
  refused: {
    text: 'That account is a member of this network. The admin console is for owners and admins.',
    error: true,
  },
  'rate-limited': { text: 'Too many sign-in attempts. Wait a minute and try again.', error: true },
  'no-sso': { text: 'Single sign-on is not set up on this server.', error: true },
  'session-ended': { text: 'Your session ended. Sign in again to continue.', error: true },
  'signed-out': { text: 'You are signed out.', error: false },
};

const href = (via: ConsoleSignInMethod) => `${CONSOLE_SIGNIN_PATH}?via=${via}`;

export function SignIn(props: {
  readonly session: Extract<ConsoleSession, { state: 'signed-out' }>;
  readonly notice: SignInNotice | null;
}) {
  const n = props.notice ? NOTICES[props.notice] : null;
  return (
    <main className="center">
      <div className="card narrow signin" aria-labelledby="signin-title">
        <span className="logo big" aria-hidden="true" />
        <h1 id="signin-title">Sign in to the {props.session.network.name} admin console</h1>
        <p className="muted">
          Owners and admins of the network manage devices, users, keys and access here.
        </p>
        {n && (
          <p className={n.error ? 'notice error' : 'notice ok'} role={n.error ? 'alert' : 'status'}>
            {n.text}
          </p>
        )}
        {props.session.oidc && (
          <a className="button primary block" href={href('oidc')}>
            Sign in with {props.session.oidc.name}
          </a>
        )}
        <a
          className={props.session.oidc ? 'button block' : 'button primary block'}
          href={href('password')}
        >
          Sign in with email and password
        </a>
      </div>
    </main>
  );
}
