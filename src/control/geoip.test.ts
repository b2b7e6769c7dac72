import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { GeoDatabaseError, GeoDatabaseFile } from './geoip.js';

const FIXTURE = fileURLToPath(new URL('./policy/testdata/geo.csv', import.meta.url));

describe('GeoIP database file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-geoip-'));
    file = path.join(dir, 'geo.csv');
    fs.copyFileSync(FIXTURE, file);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is named in the configuration file or by TRELLIS_GEOIP_DATABASE', () => {
    const fromFile = parseConfig({ geoipDatabase: file });
    expect(fromFile.ok && fromFile.value.geoipDatabase).toBe(file);
    const fromEnv = parseConfig({}, { TRELLIS_GEOIP_DATABASE: '/etc/trellis/geo.csv' });
    expect(fromEnv.ok && fromEnv.value.geoipDatabase).toBe('/etc/trellis/geo.csv');
    const none = parseConfig({});
    expect(none.ok && 'geoipDatabase' in none.value).toBe(false);
  });

  it('opens the shipped fixture', async () => {
    const db = await GeoDatabaseFile.open(file);
    expect(db.lookup.country('192.0.2.1')).toBe('DE');
    expect(await db.reload()).toEqual({ type: 'unchanged' });
  });

  it('refuses a broken or missing file with a typed error naming the line', async () => {
    fs.writeFileSync(file, '192.0.2.0/24,DE\n192.0.2.1/24,FR\n');
    const e = await GeoDatabaseFile.open(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GeoDatabaseError);
    expect(e).toMatchObject({ code: 'geoip_invalid', path: file, line: 2 });
    expect((e as Error).message).toMatch(new RegExp(`^geoip database ${file}:2: .*host bits`));
    const missing = await GeoDatabaseFile.open(path.join(dir, 'nope.csv')).catch((x: unknown) => x);
    expect(missing).toMatchObject({ code: 'geoip_invalid', line: 0 });
  });

  it('picks up a replaced file, and keeps the old database when the new one is broken', async () => {
    const db = await GeoDatabaseFile.open(file);
    const swap = (text: string) => {
      const tmp = path.join(dir, 'next.csv');
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, file); // how operators replace it: atomically
    };
    swap('192.0.2.0/24,GB\n');
    const r = await db.reload();
    expect(r.type).toBe('reloaded');
    expect(db.lookup.country('192.0.2.1')).toBe('GB');
    swap('192.0.2.0/24,gb\n');
    const bad = await db.reload();
    expect(bad).toMatchObject({ type: 'failed', error: { line: 1 } });
    expect(db.lookup.country('192.0.2.1')).toBe('GB');
    // The refused version is not re-read (or re-reported) until it changes or a reload is forced.
    expect(await db.reload()).toEqual({ type: 'unchanged' });
    expect((await db.reload({ force: true })).type).toBe('failed');
  });
});
