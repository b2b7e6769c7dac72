/**
 * The Ed25519 key pair control signs relay tokens with. Control keeps the private key (PEM file,
 * mode 0600); relays get only the public key (SPKI PEM or JWK), so they can run on other hosts
 * and can't mint tokens.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface RelayTokenKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function generateRelayTokenKeyPair(): RelayTokenKeyPair {
  return generateKeyPairSync('ed25519');
}

export function exportPrivateKeyPem(k: KeyObject): string {
  return k.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function exportPublicKeyPem(k: KeyObject): string {
  return k.export({ format: 'pem', type: 'spki' }).toString();
}

export function exportPublicKeyJwk(k: KeyObject): JsonWebKey {
  return k.export({ format: 'jwk' });
}

function requireEd25519(k: KeyObject, kind: 'private' | 'public'): KeyObject {
  if (k.type !== kind || k.asymmetricKeyType !== 'ed25519') {
    throw new Error(`relay token key must be an Ed25519 ${kind} key`);
  }
  return k;
}

/** Parses a PKCS#8 PEM Ed25519 private key. Throws on anything else. */
export function parseRelaySigningKey(pem: string): RelayTokenKeyPair {
  const privateKey = requireEd25519(createPrivateKey(pem), 'private');
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Parses the public key a relay verifies with: SPKI PEM text or an OKP/Ed25519 JWK. */
export function parseRelayVerifyKey(key: string | JsonWebKey): KeyObject {
  const k =
    typeof key === 'string' ? createPublicKey(key) : createPublicKey({ key, format: 'jwk' });
  return requireEd25519(k, 'public');
}

export async function loadRelayVerifyKey(path: string): Promise<KeyObject> {
  const text = await readFile(path, 'utf8');
  return parseRelayVerifyKey(text.trimStart().startsWith('{') ? JSON.parse(text) : text);
}

/**
 * Loads the signing key from `path`, or creates it when the file doesn't exist yet: mode 0600,
 * written to a temp file and fsynced, then hard-linked into place so a crash never leaves a
 * half-written key and two processes starting at once end up with the same key.
 */
export async function loadOrCreateRelaySigningKey(path: string): Promise<RelayTokenKeyPair> {
  try {
    return parseRelaySigningKey(await readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const pair = generateRelayTokenKeyPair();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(exportPrivateKeyPem(pair.privateKey));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return parseRelaySigningKey(await readFile(path, 'utf8')); // another process won the race
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return pair;
}
