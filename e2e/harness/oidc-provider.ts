/**
 * A real OpenID provider (panva's `oidc-provider`) on 127.0.0.1 for sign-in tests: one
 * confidential client that must use PKCE, test accounts with email, email_verified, name and
 * groups claims, and the package's development login and consent pages (any password is
 * accepted; the login name picks the account).
 *
 * The HTTP server starts first so its issuer URL is known; the provider itself is configured by
 * `attach(redirectUri)` once the relying party (trellis-control) knows its own URL. Until then
 * every request gets 503, which is also how tests show a provider that is down.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestAccount {
  email?: string;
  email_verified?: boolean | string;
  name?: string;
  /** Whatever the test wants the groups claim to be (well-formed or not). */
  groups?: unknown;
}

export interface TestOidcProvider {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Login name → claims; tests may change entries between sign-ins. */
  readonly accounts: Map<string, TestAccount>;
  /** Configures the provider with the client's redirect URI and starts answering. */
  attach(redirectUri: string): void;
  /** Back to answering 503 (the provider "goes down"); attach() again to recover. */
  detach(): void;
  stop(): Promise<void>;
}

/** The slice of oidc-provider's API used here (the package ships no type declarations). */
interface ProviderInstance {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
}
type ProviderCtor = new (
  issuer: string,
  configuration: Record<string, unknown>,
) => ProviderInstance;

/** Short token lifetimes: a test run never needs more, and nothing outlives it. */
const TOKEN_TTL_SECONDS = 300;

export async function startOidcProvider(
  accounts: Record<string, TestAccount>,
): Promise<TestOidcProvider> {
  // A computed specifier: without type declarations a static import would not type-check.
  const specifier = 'oidc-provider';
  const { default: Provider } = (await import(specifier)) as { default: ProviderCtor };

  let handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | null = null;
  const server = http.createServer((req, res) => {
    if (handler) return handler(req, res);
    res.writeHead(503, { 'content-type': 'text/plain' }).end('provider not started');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'trellis-control';
  const clientSecret = crypto.randomBytes(32).toString('base64url');
  const table = new Map(Object.entries(accounts));
  const signingKey = crypto
    .generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ format: 'jwk' });

  const configure = (redirectUri: string): ProviderInstance =>
    new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      pkce: { required: () => true },
      scopes: ['openid', 'email', 'profile', 'groups'],
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name'],
        groups: ['groups'],
      },
      findAccount: (_ctx: unknown, sub: string) => {
        if (!table.has(sub)) return undefined;
        return {
          accountId: sub,
          // Read at token time, so a test's change to an account shows on the next sign-in.
          claims: async () => ({ sub, ...table.get(sub) }),
        };
      },
      jwks: { keys: [{ ...signingKey, kid: 'test', alg: 'RS256', use: 'sig' }] },
      cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
      features: { devInteractions: { enabled: true } },
      ttl: {
        AccessToken: TOKEN_TTL_SECONDS,
        AuthorizationCode: 60,
        IdToken: TOKEN_TTL_SECONDS,
        Interaction: TOKEN_TTL_SECONDS,
        Session: TOKEN_TTL_SECONDS,
        Grant: TOKEN_TTL_SECONDS,
      },
    });

  let provider: ProviderInstance | null = null;
  return {
    issuer,
    clientId,
    clientSecret,
    accounts: table,
    attach(redirectUri) {
      provider ??= configure(redirectUri);
      handler = provider.callback();
    },
    detach() {
      handler = null;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
