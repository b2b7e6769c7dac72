/**
 * Relay tokens: short-lived EdDSA (Ed25519) JWTs that control hands to each device in its netmap.
 * A relay verifies them with control's public key alone, so relays keep no state and no secrets.
 *
 * Claims: sub = node public key (WireGuard base64), aud = "trellis-relay", net = network id,
 * rid = region id, 0 for every region (region ids start at 1), iat, exp.
 */
import type { KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { keyFromBase64, keyToBase64 } from '../../shared/keys.js';
import { decodeError, ok, type DecodeError, type Result } from '../../shared/result.js';

/** Keeps relay tokens apart from any other JWT the same key might ever sign. */
export const RELAY_TOKEN_AUDIENCE = 'trellis-relay';
/** `rid` of a token good in every region (no region has id 0). */
export const ANY_REGION = 0;

/**
 * Token lifetime. Checked when a client connects (an established relay connection outlives its
 * token, so relayed traffic survives a control outage). 30 minutes bounds how long a leaked or
 * revoked token can open new connections; netmap updates hand out fresh tokens well before.
 */
export const DEFAULT_RELAY_TOKEN_TTL_SECONDS = 30 * 60;
/** Accepted clock skew between control and a relay on another host. */
export const RELAY_TOKEN_CLOCK_TOLERANCE_SECONDS = 60;

export interface RelayTokenRequest {
  readonly nodeKey: Uint8Array;
  readonly networkId: string;
  /** Region the token is good for; defaults to every region (0). */
  readonly regionId?: number;
  readonly ttlSeconds?: number;
  readonly now?: Date;
}

export interface RelayTokenClaims {
  readonly nodeKey: Uint8Array;
  readonly networkId: string;
  readonly regionId: number;
  readonly expiresAt: Date;
}

export async function issueRelayToken(
  signingKey: KeyObject,
  req: RelayTokenRequest,
): Promise<string> {
  const ttl = req.ttlSeconds ?? DEFAULT_RELAY_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError('relay token ttl must be > 0');
  const iat = Math.floor((req.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ net: req.networkId, rid: req.regionId ?? ANY_REGION })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setSubject(keyToBase64(req.nodeKey))
    .setAudience(RELAY_TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(signingKey);
}

/** Reasons stay in logs and metrics; a refused client only learns "policy violation". */
export type RelayTokenErrorCode = 'invalid-token' | 'expired' | 'bad-claims' | 'wrong-region';

export interface VerifyRelayTokenOptions {
  /** This relay's region: the token's rid must equal it or be 0 (any region). */
  readonly regionId: number;
  readonly now?: Date;
}

export async function verifyRelayToken(
  token: string,
  publicKey: KeyObject,
  opts: VerifyRelayTokenOptions,
): Promise<Result<RelayTokenClaims, DecodeError<RelayTokenErrorCode>>> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, publicKey, {
      algorithms: ['EdDSA'],
      audience: RELAY_TOKEN_AUDIENCE,
      requiredClaims: ['sub', 'exp', 'net', 'rid'],
      clockTolerance: RELAY_TOKEN_CLOCK_TOLERANCE_SECONDS,
      ...(opts.now ? { currentDate: opts.now } : {}),
    }));
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_JWT_EXPIRED') return decodeError('expired', 'relay token expired');
    return decodeError('invalid-token', `relay token rejected (${String(code ?? 'error')})`);
  }
  const { sub, net, rid, exp } = payload;
  const nodeKey = typeof sub === 'string' ? keyFromBase64(sub) : undefined;
  if (
    !nodeKey?.ok ||
    typeof net !== 'string' ||
    net.length === 0 ||
    typeof rid !== 'number' ||
    !Number.isInteger(rid) ||
    typeof exp !== 'number'
  ) {
    return decodeError('bad-claims', 'relay token claims malformed');
  }
  if (rid !== ANY_REGION && rid !== opts.regionId) {
    return decodeError('wrong-region', `relay token for region ${rid}`);
  }
  return ok({
    nodeKey: nodeKey.value,
    networkId: net,
    regionId: rid,
    expiresAt: new Date(exp * 1000),
  });
}
