/**
 * `trellis://` links: the scheme the installers register (electron-builder.yml `protocols`) so a
 * sign-in that finishes in the system browser can hand the user back to the app, and so a link
 * can open one of its views. The OS delivers a link three ways: macOS sends `open-url`; Windows
 * and Linux start the app with the URL as an argument, which reaches the running instance as
 * `second-instance` argv (or this instance's own argv when it is the first). main.ts wires those;
 * this file is the pure part: which URLs mean what. Links carry no secrets and no commands that
 * change anything: a link can only bring a window forward (a web page can open any link).
 *
 *   trellis://signin[?...]       sign-in finished (or is waiting): show the sign-in view
 *   trellis://open/<view>        show a view (home, peers, exit-node, ...)
 */
import { View } from '../../shared/schema/ipc.js';

export const TRELLIS_SCHEME = 'trellis';

/** Longer than any link we make; a bound on what the parser looks at. */
export const MAX_LINK_LENGTH = 2048;

export type TrellisLink = { readonly kind: 'show'; readonly view: View };

/** The action for a `trellis://` URL, or null for anything else (other schemes, unknown paths). */
export function parseTrellisLink(text: string): TrellisLink | null {
  if (typeof text !== 'string' || text.length > MAX_LINK_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== `${TRELLIS_SCHEME}:`) return null;
  // trellis://signin/ and trellis:signin both name the host "signin" or the path "signin".
  const parts = [url.hostname, ...url.pathname.split('/')].filter((p) => p !== '');
  const [first, second, ...rest] = parts;
  if (rest.length > 0) return null;
  if (first === 'signin' && second === undefined) return { kind: 'show', view: 'sign-in' };
  if (first === 'open') {
    const view = View.safeParse(second ?? 'home');
    return view.success ? { kind: 'show', view: view.data } : null;
  }
  return null;
}

/** The first `trellis://` link among command-line arguments (Windows and Linux deliver them so). */
export function linkFromArgv(argv: readonly string[]): TrellisLink | null {
  for (const arg of argv) {
    if (arg.toLowerCase().startsWith(`${TRELLIS_SCHEME}:`)) {
      const link = parseTrellisLink(arg);
      if (link) return link;
    }
  }
  return null;
}
