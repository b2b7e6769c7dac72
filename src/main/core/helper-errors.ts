/**
 * What the app tells the user when it cannot use the helper, and how helper errors cross the IPC.
 * Pure: the hint names the socket so the user can check the right path.
 */
import type { HelperConnection } from '../../shared/schema/ipc.js';
import { ipcError, type IpcError } from '../../shared/schema/ipc-derive.js';
import type { HelperError } from './helper-api.js';

type Unavailable = Extract<HelperConnection, { state: 'helper-unavailable' }>;

/** The errors that mean "no usable helper" (as opposed to "the helper refused this request"). */
export function isUnavailable(e: HelperError): boolean {
  return (
    e.code === 'daemon_not_running' ||
    e.code === 'permission_denied' ||
    e.code === 'unsupported_version' ||
    e.code === 'transport'
  );
}

/** How to start the helper's service, as the packages install it on each OS. */
function startAdvice(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'win32':
      return 'Start the "trellisd" service (Services, or "sc start trellisd" in an administrator prompt), or reinstall Trellis.';
    case 'darwin':
      return 'Start it with "sudo launchctl kickstart -k system/com.trellis.trellisd", or reinstall Trellis.';
    default:
      return 'Start it with "sudo systemctl start trellisd", or run "sudo trellisd".';
  }
}

/** How a user gets access to the helper's socket on each OS. */
function accessAdvice(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'win32':
      return 'Check that the Trellis helper service runs as LocalSystem (reinstall Trellis if not).';
    case 'darwin':
      return 'Join the "trellis" group ("sudo dseditgroup -o edit -a $USER -t user trellis"), then log out and back in.';
    default:
      return 'Join the "trellis" group ("sudo usermod -aG trellis $USER"), then sign out of your desktop session and back in.';
  }
}

/**
 * The helper-unavailable state for an error; null when the error does not mean that. The advice
 * follows how the packages install the helper on `platform`.
 */
export function unavailableConnection(
  e: HelperError,
  socketPath: string,
  platform: NodeJS.Platform = process.platform,
): Unavailable | null {
  switch (e.code) {
    case 'daemon_not_running':
    case 'transport':
      return {
        state: 'helper-unavailable',
        reason: 'not-running',
        hint: `The Trellis helper is not running (nothing answers on ${socketPath}). ${startAdvice(platform)}`,
      };
    case 'permission_denied':
      return {
        state: 'helper-unavailable',
        reason: 'permission-denied',
        hint: `You may not use the Trellis helper's socket ${socketPath}. ${accessAdvice(platform)}`,
      };
    case 'unsupported_version':
      return {
        state: 'helper-unavailable',
        reason: 'incompatible-version',
        hint: `The Trellis helper and this app do not speak the same LocalAPI version (${e.message.slice(0, 300)}). Update both to the same release.`,
      };
    default:
      return null;
  }
}

/** A helper failure as the renderer sees it. */
export function toIpcError(e: HelperError): IpcError {
  if (isUnavailable(e)) return ipcError('helper_unavailable', e.message);
  if (e.code === 'not_logged_in') return ipcError('not_logged_in', e.message);
  return ipcError('helper_error', e.message);
}
