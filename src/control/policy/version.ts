/**
 * Version comparison for posture checks: semantic versions for the Trellis client (SemVer 2.0.0
 * §11 precedence, build metadata ignored) and dotted numbers for OS and kernel versions, which
 * arrive in each OS's own spelling ("14.4.1", "10.0.22631", "6.1.0-18-amd64").
 */

interface SemVerParts {
  readonly core: readonly [number, number, number];
  readonly pre: readonly string[];
}

const SEMVER_RE = /^(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export function parseSemver(text: string): SemVerParts | null {
  const m = SEMVER_RE.exec(text);
  if (!m) return null;
  return {
    core: [Number(m[1]), Number(m[2]), Number(m[3])],
    pre: m[4] === undefined ? [] : m[4].split('.'),
  };
}

/** Negative when a < b, zero when equal in precedence, positive when a > b. */
export function compareSemver(a: SemVerParts, b: SemVerParts): number {
  for (let i = 0; i < 3; i++) {
    const d = (a.core[i] ?? 0) - (b.core[i] ?? 0);
    if (d !== 0) return d;
  }
  // A pre-release sorts before its release; otherwise compare identifiers left to right.
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (xn !== yn) {
      return xn ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** Numeric components an OS version may have ("10.0.22631.3155" has four). */
const MAX_OS_VERSION_PARTS = 4;

/**
 * The leading dotted number of an OS or kernel version: "6.1.0-18-amd64" → [6, 1, 0],
 * "v14.4" → [14, 4]. Null when it does not start with a number.
 */
export function parseOsVersion(text: string): number[] | null {
  const m = /^\s*v?(\d{1,9}(?:\.\d{1,9}){0,8})/.exec(text);
  if (!m || m[1] === undefined) return null;
  return m[1].split('.').slice(0, MAX_OS_VERSION_PARTS).map(Number);
}

/** Compares dotted numbers, missing components counting as zero ("14" equals "14.0"). */
export function compareOsVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
