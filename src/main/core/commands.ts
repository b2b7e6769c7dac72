/**
 * What the user can ask for, as calls on the helper's LocalAPI (and the login flow), each
 * answering a Result with an IpcError so the IPC handlers pass them through unchanged.
 */
import { err, ok, type Result } from '../../shared/result.js';
import type { Account, AppState, LoginOutcome } from '../../shared/schema/ipc.js';
import { ipcError, type IpcError } from '../../shared/schema/ipc-derive.js';
import type {
  ExitNodeSelector,
  ExitNodeSuggestion,
  NetcheckReport,
  PingRequest,
  PingResponse,
  Prefs,
  PrefsPatch,
} from '../../shared/schema/localapi.js';
import type { ControlAuthApi } from './control-auth.js';
import type { HelperError } from './helper-api.js';
import { toIpcError } from './helper-errors.js';
import type { HelperLink } from './helper-link.js';
import { currentSession, type Keychain } from './keychain.js';
import type { LoginFlow } from './login-flow.js';

export interface CommandDeps {
  readonly link: HelperLink;
  readonly login: LoginFlow;
  readonly keychain: Keychain;
  readonly controlAuth: ControlAuthApi;
  readonly state: () => AppState;
  readonly setAccount: (a: Account | null) => void;
  readonly log?: (msg: string) => void;
}

type R<T> = Promise<Result<T, IpcError>>;

const lift = <T>(r: Result<T, HelperError>): Result<T, IpcError> =>
  r.ok ? r : err(toIpcError(r.error));

export class Commands {
  constructor(private readonly d: CommandDeps) {}

  private get helper() {
    return this.d.link.client();
  }

  async connect(): R<undefined> {
    const r = await this.helper.up({});
    return r.ok ? ok(undefined) : err(toIpcError(r.error));
  }

  async disconnect(): R<undefined> {
    const r = await this.helper.down();
    return r.ok ? ok(undefined) : err(toIpcError(r.error));
  }

  /** Any prefs change; the answer is adopted at once so the UI does not wait for the stream. */
  async updatePrefs(patch: PrefsPatch): R<Prefs> {
    const r = await this.helper.patchPrefs(patch);
    if (r.ok) this.d.link.adoptPrefs(r.value);
    return lift(r);
  }

  private async patch(patch: PrefsPatch): R<undefined> {
    const r = await this.updatePrefs(patch);
    return r.ok ? ok(undefined) : r;
  }

  setExitNode(selector: ExitNodeSelector): R<undefined> {
    return this.patch({ exitNode: selector });
  }
  setAllowLan(allow: boolean): R<undefined> {
    return this.patch({ exitNodeAllowLAN: allow });
  }
  setAcceptRoutes(accept: boolean): R<undefined> {
    return this.patch({ acceptRoutes: accept });
  }
  setAdvertisedRoutes(routes: string[]): R<undefined> {
    return this.patch({ advertiseRoutes: routes });
  }
  setAdvertiseExitNode(advertise: boolean): R<undefined> {
    return this.patch({ advertiseExitNode: advertise });
  }

  async suggestExitNode(): R<ExitNodeSuggestion> {
    return lift(await this.helper.suggestExitNode());
  }

  async ping(req: PingRequest): R<PingResponse> {
    return lift(await this.helper.ping(req));
  }

  async netcheck(): R<NetcheckReport> {
    return lift(await this.helper.netcheck());
  }

  /** Signs in at `controlUrl`, or at the control the helper is configured for. */
  async signIn(controlUrl?: string): R<LoginOutcome> {
    const url = controlUrl ?? this.d.state().prefs?.controlUrl;
    if (!url) {
      return err(ipcError('helper_unavailable', 'the helper is not available to sign in with'));
    }
    return ok(await this.d.login.signIn(url));
  }

  cancelSignIn(): void {
    this.d.login.cancel();
  }

  /**
   * Forgets the session first (so nothing re-registers the device from the keychain meanwhile),
   * then logs the device out, then ends the session at control (best effort).
   */
  async signOut(): R<undefined> {
    const s = this.d.state();
    const controlUrl = s.account?.controlUrl ?? s.prefs?.controlUrl ?? null;
    let ended: (() => Promise<void>) | null = null;
    if (controlUrl) {
      const cur = await currentSession(this.d.keychain, controlUrl);
      const accounts = await this.d.keychain.list(controlUrl);
      if (cur.ok && cur.value) {
        const token = cur.value.token;
        ended = async () => {
          const r = await this.d.controlAuth.endSession(controlUrl, token.reveal());
          if (!r.ok) this.d.log?.(`ending the session at control failed: ${r.error.message}`);
        };
      }
      if (accounts.ok) {
        for (const a of accounts.value) await this.d.keychain.remove(controlUrl, a.user.id);
      }
    }
    const r = await this.helper.logout();
    if (!r.ok) return err(toIpcError(r.error));
    this.d.setAccount(null);
    await ended?.();
    return ok(undefined);
  }
}
