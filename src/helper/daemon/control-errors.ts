/** How a failed call to control is reported to a LocalAPI caller. */
import type { ControlClientError } from '../control-client/errors.js';
import type { LocalApiError } from '../localapi/errors.js';

export function controlFailure(
  e: ControlClientError,
  what: string,
  controlUrl: string,
): LocalApiError {
  switch (e.code) {
    case 'network':
    case 'timeout':
      return {
        code: 'unavailable',
        message: `cannot reach control at ${controlUrl}: ${e.message}`,
      };
    case 'unavailable':
    case 'rate_limited':
    case 'internal':
      return { code: 'unavailable', message: `control could not ${what} right now: ${e.message}` };
    case 'unauthorized':
    case 'gone':
    case 'forbidden':
    case 'key_expired':
      return { code: 'not_logged_in', message: `control refused to ${what}: ${e.message}` };
    case 'conflict':
      return { code: 'conflict', message: `control refused to ${what}: ${e.message}` };
    case 'unsupported_version':
      return {
        code: 'unsupported_version',
        message: `control does not speak this helper's protocol: ${e.message}`,
      };
    case 'bad_request':
    case 'not_found':
    case 'too_large':
    case 'invalid_response':
      return { code: 'internal', message: `control could not ${what}: ${e.message}` };
  }
}
