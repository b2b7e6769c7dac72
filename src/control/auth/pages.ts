/**
 * The sign-in pages a login session URL serves: a local email/password form, a button for the
 * configured OIDC provider, and the result pages. Plain server-rendered HTML with a strict CSP
 * (no scripts at all), every interpolated value escaped.
 */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const STYLE = `body{font:16px system-ui,sans-serif;background:#f4f5f7;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;padding:2rem 2.5rem;border-radius:12px;box-shadow:0 2px 12px #0002;width:22rem}
h1{font-size:1.3rem;margin:0 0 .3rem}p{color:#444}label{display:block;margin:.8rem 0 .2rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #bbb;border-radius:6px;font-size:1rem}
button,.button{display:block;width:100%;margin-top:1.2rem;padding:.65rem;border:0;border-radius:6px;background:#2d5be3;color:#fff;font-size:1rem;text-align:center;text-decoration:none;cursor:pointer}
.alt{background:#333}.error{color:#b00020}.or{text-align:center;color:#888;margin:1rem 0 0}`;

function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · Trellis</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export interface SignInPage {
  readonly networkName: string;
  readonly clientName: string | null;
  readonly formAction: string;
  readonly oidc: { name: string; href: string } | null;
  readonly error?: string;
  readonly email?: string;
}

export function signInPage(p: SignInPage): string {
  const who = p.clientName ? ` for ${escapeHtml(p.clientName)}` : '';
  const oidc = p.oidc
    ? `<a class="button alt" id="oidc" href="${escapeHtml(p.oidc.href)}">Sign in with ${escapeHtml(p.oidc.name)}</a><p class="or">or with a Trellis account</p>`
    : '';
  const error = p.error ? `<p class="error" role="alert">${escapeHtml(p.error)}</p>` : '';
  return layout(
    'Sign in',
    `<h1>Sign in to ${escapeHtml(p.networkName)}</h1><p>Trellis is asking you to sign in${who}.</p>${error}${oidc}
<form method="post" action="${escapeHtml(p.formAction)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${escapeHtml(p.email ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="submit">Sign in</button></form>`,
  );
}

export const signedInPage = (email: string): string =>
  layout(
    'Signed in',
    `<h1 id="done">You are signed in</h1><p>Signed in as ${escapeHtml(email)}. You can close this window and return to Trellis.</p>`,
  );

export const loginProblemPage = (title: string, message: string): string =>
  layout(title, `<h1 id="problem">${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
