import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TRELLIS_VERSION } from './version.js';

describe('TRELLIS_VERSION', () => {
  it('matches package.json', () => {
    const pkg = JSON.parse(
      fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(TRELLIS_VERSION).toBe(pkg.version);
  });
});
