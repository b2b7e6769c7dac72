/**
 * fast-check arbitraries that break valid messages in small ways, for property tests of parsers
 * ("mutated input never throws and is either accepted or rejected with a typed error").
 * Test-only: imports fast-check, a dev dependency.
 */
import fc from 'fast-check';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

function paths(value: Json, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  }
  return out;
}

function replaceAt(value: Json, path: Path, f: (old: Json) => Json | undefined): Json | undefined {
  if (path.length === 0) return f(value);
  const [head, ...rest] = path;
  if (Array.isArray(value) && typeof head === 'number') {
    const copy = value.slice();
    const next = replaceAt(copy[head] ?? null, rest, f);
    if (next === undefined) copy.splice(head, 1);
    else copy[head] = next;
    return copy;
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof head === 'string'
  ) {
    const copy: { [k: string]: Json } = { ...value };
    const next = replaceAt(copy[head] ?? null, rest, f);
    if (next === undefined) delete copy[head];
    else copy[head] = next;
    return copy;
  }
  return value;
}

const replacement: fc.Arbitrary<(old: Json) => Json | undefined> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((v) => () => v as Json),
  fc.constant(() => undefined), // delete
  fc
    .constantFrom<Json>('', -1, 1e308, 'x'.repeat(10_000), '::', '1.2.3.4/99', [], {})
    .map((v) => () => v),
  fc.constant((old: Json) => (typeof old === 'string' ? old + old.slice(0, 3) : old)),
  fc.constant((old: Json) => (Array.isArray(old) ? [...old, ...old] : old)),
);

/** A valid sample with one to three random mutations applied at random places. */
export function mutated(samples: readonly unknown[]): fc.Arbitrary<unknown> {
  const mutation = fc.tuple(fc.nat(), replacement);
  return fc
    .tuple(fc.constantFrom(...samples), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([sample, muts]) => {
      let v = JSON.parse(JSON.stringify(sample)) as Json;
      for (const [at, f] of muts) {
        const all = paths(v);
        const path = all[at % all.length] ?? [];
        v = replaceAt(v, path, f) ?? null;
      }
      return v;
    });
}
