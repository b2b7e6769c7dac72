import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleNetmap, samplePrefs } from '../../shared/schema/samples.js';
import { STATE_FILE_NAMES } from './files.js';
import { StateStore, type Registration } from './store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-state-'));
  dirs.push(d);
  return path.join(d, 'state');
}

const mode = (p: string): number => fs.statSync(p).mode & 0o777;

function registrationFor(publicKey: string, deviceId = 'dev-self'): Registration {
  return {
    controlUrl: 'http://127.0.0.1:8080',
    deviceId,
    nodeCredential: 'tr_node_0123456789abcdef0123',
    nodePublicKey: publicKey,
    name: 'box',
    fqdn: 'box.test.trellis',
    addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:115c:a1e0::1' },
    network: { id: 'net1', name: 'Test', domain: 'test.trellis' },
    user: null,
    keyExpiry: null,
    registeredAt: '2025-01-15T12:00:00.000Z',
  };
}

describe('StateStore', () => {
  it('creates a root-only directory and a node key on first start, and keeps it', async () => {
    const dir = tempDir();
    const a = await (await StateStore.open(dir)).load();
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, STATE_FILE_NAMES.nodeKey))).toBe(0o600);
    expect(a.registration).toBeNull();
    expect(a.prefs).toBeNull();
    expect(a.issues).toEqual([]);
    const b = await (await StateStore.open(dir)).load();
    expect(b.nodeKey.publicKeyBase64).toBe(a.nodeKey.publicKeyBase64);
    expect(b.nodeKey.privateKeyBase64).toBe(a.nodeKey.privateKeyBase64);
  });

  it('tightens an existing directory that is too open and removes crash temp files', async () => {
    const dir = tempDir();
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'prefs.json.tmp-123-abcd'), '{"half');
    await StateStore.open(dir);
    expect(mode(dir)).toBe(0o700);
    expect(fs.readdirSync(dir)).not.toContain('prefs.json.tmp-123-abcd');
  });

  it('round-trips registration, prefs and netmap with 0600 files', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    const { nodeKey } = await store.load();
    const reg = registrationFor(nodeKey.publicKeyBase64);
    await store.saveRegistration(reg);
    await store.savePrefs(samplePrefs());
    const nm = sampleNetmap(3);
    await store.saveNetmap({ deviceId: reg.deviceId, nodePublicKey: reg.nodePublicKey }, nm);
    for (const f of Object.values(STATE_FILE_NAMES)) expect(mode(path.join(dir, f))).toBe(0o600);
    const loaded = await (await StateStore.open(dir)).load();
    expect(loaded.registration).toEqual(reg);
    expect(loaded.prefs).toEqual(samplePrefs());
    expect(loaded.netmap).toEqual(nm);
    expect(loaded.issues).toEqual([]);
  });

  it('restores the previous good copy when the current file is corrupt, and keeps the bad one aside', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    await store.load();
    const first = { ...samplePrefs(), acceptRoutes: false };
    await store.savePrefs(first);
    await store.savePrefs({ ...first, acceptRoutes: true });
    // A torn write by something that is not us (or a disk error): half a JSON document.
    fs.writeFileSync(path.join(dir, STATE_FILE_NAMES.prefs), '{"version":1,"prefs":{"contr');
    const loaded = await (await StateStore.open(dir)).load();
    expect(loaded.prefs).toEqual(first);
    expect(loaded.issues).toEqual([
      expect.objectContaining({ file: 'prefs.json', code: 'invalid_json', recovery: 'previous' }),
    ]);
    expect(fs.readFileSync(path.join(dir, 'prefs.json.corrupt'), 'utf8')).toContain('contr');
    // The restored copy is current again: a later write keeps it as the backup.
    const again = await (await StateStore.open(dir)).load();
    expect(again.prefs).toEqual(first);
    expect(again.issues).toEqual([]);
  });

  it('falls back to defaults when both copies are bad, and reports a schema error', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    await store.load();
    fs.writeFileSync(
      path.join(dir, STATE_FILE_NAMES.prefs),
      '{"version":1,"prefs":{"wantRunning":"yes"}}',
    );
    fs.writeFileSync(path.join(dir, `${STATE_FILE_NAMES.prefs}.prev`), 'garbage');
    const loaded = await (await StateStore.open(dir)).load();
    expect(loaded.prefs).toBeNull();
    expect(loaded.issues).toEqual([
      expect.objectContaining({ file: 'prefs.json', code: 'invalid', recovery: 'default' }),
    ]);
  });

  it('replaces an unreadable node key with a new one and drops the registration tied to the old key', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    const { nodeKey } = await store.load();
    await store.saveRegistration(registrationFor(nodeKey.publicKeyBase64));
    fs.writeFileSync(
      path.join(dir, STATE_FILE_NAMES.nodeKey),
      '{"version":1,"privateKey":"short"}',
    );
    fs.rmSync(path.join(dir, `${STATE_FILE_NAMES.nodeKey}.prev`), { force: true });
    const loaded = await (await StateStore.open(dir)).load();
    expect(loaded.nodeKey.publicKeyBase64).not.toBe(nodeKey.publicKeyBase64);
    expect(loaded.registration).toBeNull();
    expect(loaded.issues.map((i) => i.file)).toEqual(['node-key.json', 'registration.json']);
    expect(fs.existsSync(path.join(dir, STATE_FILE_NAMES.registration))).toBe(false);
  });

  it('refuses an oversized file before reading it', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    await store.load();
    fs.writeFileSync(path.join(dir, STATE_FILE_NAMES.registration), Buffer.alloc(65 * 1024, 0x20));
    const loaded = await (await StateStore.open(dir)).load();
    expect(loaded.registration).toBeNull();
    expect(loaded.issues).toEqual([expect.objectContaining({ code: 'too_large' })]);
  });

  it('ignores a cached netmap saved for another device', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    const { nodeKey } = await store.load();
    await store.saveRegistration(registrationFor(nodeKey.publicKeyBase64, 'dev-new'));
    await store.saveNetmap(
      { deviceId: 'dev-old', nodePublicKey: nodeKey.publicKeyBase64 },
      sampleNetmap(1),
    );
    const loaded = await (await StateStore.open(dir)).load();
    expect(loaded.registration?.deviceId).toBe('dev-new');
    expect(loaded.netmap).toBeNull();
  });

  it('removes the registration and its previous copy on logout', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    const { nodeKey } = await store.load();
    await store.saveRegistration(registrationFor(nodeKey.publicKeyBase64));
    await store.saveRegistration(registrationFor(nodeKey.publicKeyBase64, 'dev-2'));
    expect(fs.existsSync(path.join(dir, 'registration.json.prev'))).toBe(true);
    await store.saveRegistration(null);
    expect(fs.existsSync(path.join(dir, 'registration.json'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'registration.json.prev'))).toBe(false);
    expect((await (await StateStore.open(dir)).load()).registration).toBeNull();
  });

  it('rotates the node key remembering the registered one', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    const { nodeKey } = await store.load();
    const next = await store.rotateNodeKey(nodeKey, nodeKey.publicKeyBase64);
    expect(next.previousPublicKey).toBe(nodeKey.publicKeyBase64);
    const loaded = await (await StateStore.open(dir)).load();
    expect(loaded.nodeKey.publicKeyBase64).toBe(next.publicKeyBase64);
    expect(loaded.nodeKey.previousPublicKey).toBe(nodeKey.publicKeyBase64);
  });

  it('never throws on arbitrary bytes in any state file', async () => {
    const dir = tempDir();
    const store = await StateStore.open(dir);
    await store.load();
    const names = Object.values(STATE_FILE_NAMES);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...names),
        fc.uint8Array({ maxLength: 512 }),
        async (name, bytes) => {
          fs.writeFileSync(path.join(dir, name), bytes);
          const loaded = await (await StateStore.open(dir)).load();
          expect(loaded.nodeKey.publicKeyBase64).toHaveLength(44);
        },
      ),
      { numRuns: 60 },
    );
  });
});
