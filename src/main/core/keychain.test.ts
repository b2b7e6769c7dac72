import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { chooseKeychain, safeStorageKeychain, type SecretCipher } from './keychain-file.js';
import {
  memoryKeychain,
  normalizeControlUrl,
  type Keychain,
  type SessionEntry,
} from './keychain.js';
import { openOsKeychain } from './keychain-os.js';
import { Secret } from './secret.js';

const TOKEN = 'tr_sess_SECRETSECRETSECRET0123';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmpFile = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-keychain-'));
  dirs.push(d);
  return path.join(d, 'sub', 'sessions.bin');
};

const entry = (over: Partial<SessionEntry> & { id?: string } = {}): SessionEntry => ({
  controlUrl: 'https://control.example.com',
  token: new Secret(TOKEN),
  expiresAt: '2099-01-01T00:00:00.000Z',
  user: { id: over.id ?? 'u1', email: 'alice@example.com', name: 'Alice' },
  network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
  savedAt: '2025-01-01T00:00:00.000Z',
  ...over,
});

/** A reversible cipher that leaves no plaintext behind (it XORs and reverses the bytes). */
const fakeCipher = (available = true): SecretCipher => ({
  isAvailable: () => available,
  encrypt: (plain) =>
    Buffer.from(
      Buffer.from(plain, 'utf8')
        .map((b) => b ^ 0x5a)
        .reverse(),
    ),
  decrypt: (sealed) => {
    if (sealed[0] === undefined) throw new Error('empty');
    return Buffer.from(
      Buffer.from(sealed)
        .reverse()
        .map((b) => b ^ 0x5a),
    ).toString('utf8');
  },
});

/** The contract every keychain keeps; run against each implementation below. */
function contract(name: string, make: () => Keychain) {
  describe(`${name}: keychain contract`, () => {
    it('stores, lists newest first per control URL, and removes', async () => {
      const k = make();
      await k.save(entry({ id: 'u1', savedAt: '2025-01-01T00:00:00.000Z' }));
      await k.save(entry({ id: 'u2', savedAt: '2025-02-01T00:00:00.000Z' }));
      await k.save(entry({ id: 'u3', controlUrl: 'https://other.example.com' }));
      const r = await k.list('https://CONTROL.example.com/');
      expect(r.ok && r.value.map((e) => e.user.id)).toEqual(['u2', 'u1']);
      expect(r.ok && r.value[0]?.token.reveal()).toBe(TOKEN);
      await k.remove('https://control.example.com', 'u2');
      const after = await k.list('https://control.example.com');
      expect(after.ok && after.value.map((e) => e.user.id)).toEqual(['u1']);
    });

    it('replaces the session of the same account', async () => {
      const k = make();
      await k.save(entry({ savedAt: '2025-01-01T00:00:00.000Z' }));
      await k.save(
        entry({
          token: new Secret('tr_sess_NEWNEWNEWNEW01234'),
          savedAt: '2025-03-01T00:00:00.000Z',
        }),
      );
      const r = await k.list('https://control.example.com');
      expect(r.ok && r.value.map((e) => e.token.reveal())).toEqual(['tr_sess_NEWNEWNEWNEW01234']);
    });
  });
}

contract('memory', memoryKeychain);
contract('safeStorage file', () => {
  const r = safeStorageKeychain(tmpFile(), fakeCipher());
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
});

describe('safeStorage file keychain', () => {
  it('writes only ciphertext, readable by the owner alone', async () => {
    const file = tmpFile();
    const k = safeStorageKeychain(file, fakeCipher());
    if (!k.ok) throw new Error(k.error.message);
    await k.value.save(entry());
    const raw = fs.readFileSync(file);
    expect(raw.includes(Buffer.from(TOKEN))).toBe(false);
    expect(raw.includes(Buffer.from('alice@example.com'))).toBe(false);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['sessions.bin']);
  });

  it('refuses to exist when safeStorage cannot really encrypt', () => {
    const k = safeStorageKeychain(tmpFile(), fakeCipher(false));
    expect(!k.ok && k.error.code).toBe('unavailable');
  });

  it('reports a corrupt file as corrupt and recovers on the next save', async () => {
    const file = tmpFile();
    const k = safeStorageKeychain(file, fakeCipher());
    if (!k.ok) throw new Error(k.error.message);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, fakeCipher().encrypt('{"v":1,"sessions":[{"token":"x"}]}'));
    const r = await k.value.list('https://control.example.com');
    expect(!r.ok && r.error.code).toBe('corrupt');
    expect((await k.value.save(entry())).ok).toBe(true);
    const again = await k.value.list('https://control.example.com');
    expect(again.ok && again.value).toHaveLength(1);
  });
});

describe('Secret', () => {
  it('never prints its value', () => {
    const s = new Secret(TOKEN);
    const e = entry();
    for (const text of [
      String(s),
      `${s}`,
      JSON.stringify(e),
      inspect(e),
      inspect({ deep: { s } }),
    ]) {
      expect(text).not.toContain(TOKEN);
    }
    expect(s.reveal()).toBe(TOKEN);
  });
});

describe('chooseKeychain', () => {
  it('takes the first available keychain and reports the skipped ones', async () => {
    const skipped: string[] = [];
    const k = await chooseKeychain(
      [
        async () => ({ ok: false, error: { code: 'unavailable', message: 'no secret service' } }),
        async () => safeStorageKeychain(tmpFile(), fakeCipher()),
      ],
      memoryKeychain,
      (e) => skipped.push(e.message),
    );
    expect(k.kind).toBe('safe-storage-file');
    expect(skipped).toEqual(['no secret service']);
    const none = await chooseKeychain([], memoryKeychain);
    expect(none.kind).toBe('memory');
  });

  it('finds the OS keychain unavailable when the native module cannot load', async () => {
    const r = await openOsKeychain(async () => {
      throw new Error('no binding for this platform');
    });
    expect(!r.ok && r.error).toEqual({
      code: 'unavailable',
      message: 'no binding for this platform',
    });
  });
});

describe('normalizeControlUrl', () => {
  it('keys URLs case- and slash-insensitively', () => {
    expect(normalizeControlUrl('https://Control.Example.com/')).toBe('https://control.example.com');
    expect(normalizeControlUrl('http://127.0.0.1:8080/base//')).toBe('http://127.0.0.1:8080/base');
  });
});
