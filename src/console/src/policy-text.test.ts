import { describe, expect, it } from 'vitest';
import { countPolicyTests, offsetOf, problemLocation } from './policy-text.js';

describe('policy editor text', () => {
  const text = '{\n  "acls": [\n    { "action": "accept" "src": ["*"] },\n  ],\n}\n';

  it('maps control’s 1-based line and column to the editor offset', () => {
    expect(offsetOf(text, 1, 1)).toBe(0);
    expect(text.slice(offsetOf(text, 2, 3), offsetOf(text, 2, 3) + 6)).toBe('"acls"');
    const at = offsetOf(text, 3, 26);
    expect(text[at]).toBe('"');
    expect(text.slice(0, at).split('\n').length).toBe(3);
  });

  it('clamps positions past the end of a line or the text', () => {
    expect(offsetOf(text, 2, 500)).toBe(text.indexOf('\n', 2));
    expect(offsetOf(text, 99, 1)).toBe(text.length);
    expect(offsetOf('', 1, 1)).toBe(0);
    expect(offsetOf(text, 1, 0)).toBe(0);
  });

  it('counts the tests a HuJSON document declares', () => {
    expect(countPolicyTests('// c\n{ "tests": [{ "src": "a@b.c" }, { "src": "d@e.f" },], }')).toBe(
      2,
    );
    expect(countPolicyTests('{ "acls": [] }')).toBe(0);
    expect(countPolicyTests('{ "tests": 3 }')).toBe(0);
    expect(countPolicyTests(text)).toBeNull();
    expect(countPolicyTests('[]')).toBe(0);
    expect(countPolicyTests('null')).toBeNull();
  });

  it('says where a problem is, when control knows', () => {
    expect(problemLocation({ line: 3, column: 26 })).toBe('Line 3, column 26');
    expect(problemLocation({ line: 4 })).toBe('Line 4, column 1');
    expect(problemLocation({})).toBeNull();
  });
});
