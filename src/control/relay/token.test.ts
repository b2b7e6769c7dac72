import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair, keysEqual, keyToBase64 } from '../../shared/keys.js';
import {
  exportPrivateKeyPem,
  exportPublicKeyJwk,
  exportPublicKeyPem,
  generateRelayTokenKeyPair,
  loadOrCreateRelaySigningKey,
  loadRelayVerifyKey,
  parseRelaySigningKey,
  parseRelayVerifyKey,
} from './token-keys.js';
import { issueRelayToken, RELAY_TOKEN_AUDIENCE, verifyRelayToken } from './token.js';

const issuer = generateRelayTokenKeyPair();
const node = generateKeyPair().publicKey;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('relay tokens', () => {
  it('round-trip the claims', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const token = await issueRelayToken(issuer.privateKey, {
      nodeKey: node,
      networkId: 'net-7',
      regionId: 3,
      ttlSeconds: 600,
      now,
    });
    const r = await verifyRelayToken(token, issuer.publicKey, { regionId: 3, now });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(keysEqual(r.value.nodeKey, node)).toBe(true);
    expect(r.value.networkId).toBe('net-7');
    expect(r.value.regionId).toBe(3);
    expect(r.value.expiresAt.toISOString()).toBe('2030-01-01T00:10:00.000Z');
    const [, body] = token.split('.');
    const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(claims.sub).toBe(keyToBase64(node));
    expect(claims.aud).toBe(RELAY_TOKEN_AUDIENCE);
  });

  it('rejects a token signed by another key', async () => {
    const forger = generateRelayTokenKeyPair();
    const token = await issueRelayToken(forger.privateKey, { nodeKey: node, networkId: 'n' });
    const r = await verifyRelayToken(token, issuer.publicKey, { regionId: 1 });
    expect(!r.ok && r.error.code).toBe('invalid-token');
  });

  it('rejects expired tokens (beyond the clock tolerance) and accepts them before', async () => {
    const issued = new Date('2030-01-01T00:00:00Z');
    const token = await issueRelayToken(issuer.privateKey, {
      nodeKey: node,
      networkId: 'n',
      ttlSeconds: 60,
      now: issued,
    });
    const within = await verifyRelayToken(token, issuer.publicKey, {
      regionId: 1,
      now: new Date(issued.getTime() + 90_000), // 60 s ttl + 30 s, inside the 60 s tolerance
    });
    expect(within.ok).toBe(true);
    const late = await verifyRelayToken(token, issuer.publicKey, {
      regionId: 1,
      now: new Date(issued.getTime() + 10 * 60_000),
    });
    expect(!late.ok && late.error.code).toBe('expired');
  });

  it('rejects tokens for another region; region 0 is good everywhere', async () => {
    const fra = await issueRelayToken(issuer.privateKey, {
      nodeKey: node,
      networkId: 'n',
      regionId: 3,
    });
    const any = await issueRelayToken(issuer.privateKey, { nodeKey: node, networkId: 'n' });
    const r = await verifyRelayToken(fra, issuer.publicKey, { regionId: 4 });
    expect(!r.ok && r.error.code).toBe('wrong-region');
    expect((await verifyRelayToken(any, issuer.publicKey, { regionId: 4 })).ok).toBe(true);
  });

  it('rejects other audiences, missing claims, malformed subjects and other algorithms', async () => {
    const sign = (claims: Record<string, unknown>, aud = RELAY_TOKEN_AUDIENCE) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA' })
        .setAudience(aud)
        .setExpirationTime('5m')
        .sign(issuer.privateKey);
    const sub = keyToBase64(node);
    const cases: [string, string][] = [
      [await sign({ sub, net: 'n', rid: 0 }, 'other-service'), 'invalid-token'],
      [await sign({ sub, rid: 0 }), 'invalid-token'],
      [await sign({ sub: 'not-a-key', net: 'n', rid: 0 }), 'bad-claims'],
      [await sign({ sub, net: 5, rid: 0 }), 'bad-claims'],
      [await sign({ sub, net: 'n', rid: 'fra' }), 'bad-claims'],
      [await sign({ sub, net: 'n', rid: 1.5 }), 'bad-claims'],
      ['not.a.jwt', 'invalid-token'],
      ['', 'invalid-token'],
    ];
    for (const [token, code] of cases) {
      const r = await verifyRelayToken(token, issuer.publicKey, { regionId: 1 });
      expect(!r.ok && r.error.code, token).toBe(code);
    }
    // An HS256 token "signed" with the public key bytes must not pass (alg confusion).
    const secret = new Uint8Array(Buffer.from(exportPublicKeyPem(issuer.publicKey)));
    const hs = await new SignJWT({ sub, net: 'n', rid: 0 })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(RELAY_TOKEN_AUDIENCE)
      .setExpirationTime('5m')
      .sign(secret);
    const r = await verifyRelayToken(hs, issuer.publicKey, { regionId: 1 });
    expect(!r.ok && r.error.code).toBe('invalid-token');
  });
});

describe('relay token keys', () => {
  it('round-trips PEM and JWK, and refuses non-Ed25519 keys', async () => {
    const pair = parseRelaySigningKey(exportPrivateKeyPem(issuer.privateKey));
    const pub1 = parseRelayVerifyKey(exportPublicKeyPem(pair.publicKey));
    const pub2 = parseRelayVerifyKey(exportPublicKeyJwk(pair.publicKey));
    const token = await issueRelayToken(pair.privateKey, { nodeKey: node, networkId: 'n' });
    for (const pub of [pub1, pub2]) {
      expect((await verifyRelayToken(token, pub, { regionId: 1 })).ok).toBe(true);
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() =>
      parseRelayVerifyKey(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString()),
    ).toThrow(/Ed25519/);
    expect(() => parseRelaySigningKey(exportPublicKeyPem(issuer.publicKey))).toThrow();
  });

  it('creates the signing key once (mode 0600) and loads the same key after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trellis-relay-key-'));
    dirs.push(dir);
    const path = join(dir, 'sub', 'relay-signing.pem');
    const [a, b] = await Promise.all([
      loadOrCreateRelaySigningKey(path),
      loadOrCreateRelaySigningKey(path),
    ]);
    const c = await loadOrCreateRelaySigningKey(path);
    const pem = exportPublicKeyPem(a.publicKey);
    expect(exportPublicKeyPem(b.publicKey)).toBe(pem);
    expect(exportPublicKeyPem(c.publicKey)).toBe(pem);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toContain('BEGIN PRIVATE KEY');
    const pubPath = join(dir, 'relay.pub.json');
    await writeFile(pubPath, JSON.stringify(exportPublicKeyJwk(a.publicKey)));
    expect(exportPublicKeyPem(await loadRelayVerifyKey(pubPath))).toBe(pem);
  });
});
