/**
 * The part of the helper's LocalAPI the desktop app uses, as a narrow interface: the real
 * LocalApiClient (src/helper/localapi/client.ts) satisfies it over the Unix socket, and unit
 * tests pass an in-process fake. Nothing else in the core knows how the helper is reached.
 */
import type { Result } from '../../shared/result.js';
import type {
  LocalApiEndpointName,
  LocalApiRequest,
  LocalApiResponse,
  WatchEvent,
} from '../../shared/schema/localapi.js';
import type {
  LocalApiClientError,
  WatchHandle,
  WatchHandlers,
} from '../../helper/localapi/client.js';

export type { LocalApiClientError as HelperError, WatchHandle, WatchHandlers };

type Call<N extends LocalApiEndpointName> = Promise<
  Result<LocalApiResponse<N>, LocalApiClientError>
>;

export interface HelperApi {
  hello(): Call<'hello'>;
  status(): Call<'status'>;
  getPrefs(): Call<'getPrefs'>;
  patchPrefs(patch: LocalApiRequest<'patchPrefs'>): Call<'patchPrefs'>;
  up(req?: LocalApiRequest<'up'>): Call<'up'>;
  down(): Call<'down'>;
  login(req: LocalApiRequest<'login'>): Call<'login'>;
  logout(): Call<'logout'>;
  netcheck(): Call<'netcheck'>;
  ping(req: LocalApiRequest<'ping'>): Call<'ping'>;
  suggestExitNode(): Call<'suggestExitNode'>;
  watch(
    handlers: WatchHandlers,
    opts?: { initial?: boolean; logs?: boolean },
  ): Promise<Result<WatchHandle, LocalApiClientError>>;
}

/** Makes a fresh client per connection attempt, so a restarted daemon gets a fresh hello. */
export type HelperApiFactory = () => HelperApi;

export type { WatchEvent };
