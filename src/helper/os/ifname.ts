/**
 * Linux interface names as the helper accepts them. The kernel allows nearly any 15 bytes; we
 * accept a conservative alphabet so a name is always one safe argument to `ip`/`wg` (never an
 * option: no leading '-') and one safe file name for the UAPI socket (no '/').
 */

/** IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_INTERFACE_NAME_LENGTH = 15;

const INTERFACE_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

export function isValidInterfaceName(name: string): boolean {
  return INTERFACE_NAME_RE.test(name);
}

/** Network namespace names end up as file names under /run/netns and arguments to `ip -n`. */
const NETNS_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function isValidNetnsName(name: string): boolean {
  return NETNS_NAME_RE.test(name);
}
