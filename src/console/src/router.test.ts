import { describe, expect, it } from 'vitest';
import { PAGES, pageOfPath, pathOfPage } from './router.js';

describe('console pages', () => {
  it('maps /admin paths to pages and back', () => {
    expect(pageOfPath('/admin')).toBe('devices');
    expect(pageOfPath('/admin/')).toBe('devices');
    for (const p of PAGES) expect(pageOfPath(pathOfPage(p.id))).toBe(p.id);
  });

  it('knows no other page', () => {
    expect(pageOfPath('/admin/nope')).toBeNull();
    expect(pageOfPath('/administrator')).toBeNull();
    expect(pageOfPath('/admin/devices/x')).toBeNull();
    expect(pageOfPath('/')).toBeNull();
  });
});
