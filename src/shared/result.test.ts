import { describe, expect, it } from 'vitest';
import { decodeError, ok } from './result.js';

describe('result', () => {
  it('distinguishes ok from error by tag', () => {
    const a = ok(1);
    const b = decodeError('truncated', 'too short');
    expect(a.ok).toBe(true);
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.error.code).toBe('truncated');
  });
});
