/**
 * Posture checks (NetBird's set), evaluated by control on the facts a device reports in its host
 * info plus the public address control sees it connect from. Each check yields a PostureResult
 * whose `reason` tells the person at the device what to do; a posture passes when all of its
 * checks pass, and a rule's srcPosture admits only devices passing every posture it names.
 *
 * Decisions where NetBird's behaviour is a judgement call, written down:
 * - min-os-version: an OS the check does not name fails (the check lists the admitted OSes).
 *   Linux compares the kernel version; Windows the kernel (build) version, falling back to the
 *   OS version, which on Windows is the same "10.0.<build>" string.
 * - geolocation: with no database configured every geolocation check fails (fail closed: a
 *   misconfiguration must not open access). An address the database does not know fails an
 *   allow-list and passes a deny-list.
 * - local-network: a device network matches a range when they overlap.
 * - process: a required process with no path for the device's OS fails.
 * - A device that has not reported host info yet fails every check.
 */
import type { PostureQueries, PostureResult } from '../../shared/schema/control/netmap.js';
import type { HostInfo } from '../../shared/schema/control/hostinfo.js';
import { MAX_MESSAGE_LENGTH, type OsKind } from '../../shared/schema/common.js';
import type { Policy, PostureCheck, ProcessOs, VersionedOs } from './document.js';
import type { GeoLookup } from './geo.js';
import { overlaps, parsePrefixText, type Prefix } from './prefix.js';
import { compareOsVersions, compareSemver, parseOsVersion, parseSemver } from './version.js';

export interface DeviceFacts {
  /** Null until the device has reported host info. */
  readonly hostInfo: HostInfo | null;
  /** The address control saw the device connect from (for geolocation), if known. */
  readonly publicIp: string | null;
}

export interface PostureEvaluation {
  /** One result per check of every posture, in document order. */
  readonly results: readonly PostureResult[];
  /** Postures all of whose checks passed. */
  readonly passed: ReadonlySet<string>;
}

interface Verdict {
  readonly passed: boolean;
  readonly reason: string | null;
}

const pass: Verdict = { passed: true, reason: null };
const fail = (reason: string): Verdict => ({ passed: false, reason });

/** Items shown in a reason before "and N more": reasons are read on a small tray window. */
const MAX_LISTED = 5;

export const OS_LABEL: Record<OsKind, string> = {
  linux: 'Linux',
  windows: 'Windows',
  macos: 'macOS',
  ios: 'iOS',
  android: 'Android',
  freebsd: 'FreeBSD',
  other: 'this operating system',
};

/** Reasons quote paths and networks from policy; keep them within the wire bound. */
const clip = (text: string): string =>
  text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…`;

const listText = (items: readonly string[]): string =>
  items.length <= MAX_LISTED
    ? items.join(', ')
    : `${items.slice(0, MAX_LISTED).join(', ')} and ${items.length - MAX_LISTED} more`;

export function evaluatePostures(
  policy: Pick<Policy, 'postures'>,
  facts: DeviceFacts,
  geo: GeoLookup | null,
): PostureEvaluation {
  const results: PostureResult[] = [];
  const passed = new Set<string>();
  for (const posture of policy.postures) {
    let all = true;
    for (const check of posture.checks) {
      const v = evaluateCheck(check, facts, geo);
      all &&= v.passed;
      results.push({
        check: `${posture.name}/${check.name}`,
        kind: check.kind,
        passed: v.passed,
        reason: v.reason === null ? null : clip(v.reason),
      });
    }
    if (all) passed.add(posture.name);
  }
  return { results, passed };
}

export function evaluateCheck(
  check: PostureCheck,
  facts: DeviceFacts,
  geo: GeoLookup | null,
): Verdict {
  if (check.kind === 'geolocation') return geolocation(check, facts.publicIp, geo);
  const info = facts.hostInfo;
  if (!info)
    return fail('This device has not reported its details yet: connect it to the network.');
  switch (check.kind) {
    case 'min-client-version':
      return clientVersion(check.version, info.clientVersion);
    case 'min-os-version':
      return osVersion(check.minimums, info);
    case 'local-network':
      return localNetwork(check, info.posture.localNetworks);
    case 'process':
      return processes(check.processes, info);
  }
}

function clientVersion(min: string, have: string): Verdict {
  const want = parseSemver(min);
  const got = parseSemver(have);
  if (!want)
    return fail(
      `The policy's minimum Trellis version ${min} is not readable; tell your administrator.`,
    );
  if (!got || compareSemver(got, want) < 0) {
    return fail(`Update Trellis to ${min} or later (you have ${have}).`);
  }
  return pass;
}

function osVersion(
  minimums: Readonly<Partial<Record<VersionedOs, string>>>,
  info: HostInfo,
): Verdict {
  const os = info.os;
  const min = os === 'other' ? undefined : minimums[os];
  if (min === undefined) {
    const admitted = Object.keys(minimums).map((k) => OS_LABEL[k as VersionedOs]);
    return fail(`Access requires a ${listText(admitted)} device; ${OS_LABEL[os]} is not admitted.`);
  }
  const usesKernel = os === 'linux' || os === 'windows';
  const what = os === 'linux' ? 'the Linux kernel' : OS_LABEL[os];
  const haveText = usesKernel
    ? (info.kernelVersion ?? (os === 'windows' ? info.osVersion : undefined))
    : info.osVersion;
  const have = haveText === undefined ? null : parseOsVersion(haveText);
  const want = parseOsVersion(min);
  if (!want)
    return fail(`The policy's minimum ${what} version is not readable; tell your administrator.`);
  if (!have || haveText === undefined) {
    return fail(
      `Trellis could not read this device's ${what} version; update Trellis and reconnect.`,
    );
  }
  if (compareOsVersions(have, want) < 0) {
    return fail(`Update ${what} to ${min} or later (you have ${haveText}).`);
  }
  return pass;
}

function geolocation(
  check: Extract<PostureCheck, { kind: 'geolocation' }>,
  ip: string | null,
  geo: GeoLookup | null,
): Verdict {
  if (!geo) {
    return fail(
      'The server has no geolocation database to check your location; ask your administrator.',
    );
  }
  if (ip === null) {
    return fail('Trellis could not see where this device connects from; reconnect to the network.');
  }
  const country = geo.country(ip);
  const listed = country !== null && check.countries.includes(country);
  if (check.action === 'allow') {
    if (listed) return pass;
    if (country === null) {
      return fail(
        `Access is allowed only from ${listText(check.countries)}, and this device's location could not be determined; connect from one of those countries.`,
      );
    }
    return fail(
      `Access is allowed only from ${listText(check.countries)} (this device appears to be in ${country}).`,
    );
  }
  if (listed) return fail(`Access is not allowed from ${country}; connect from another country.`);
  return pass;
}

function localNetwork(
  check: Extract<PostureCheck, { kind: 'local-network' }>,
  networks: readonly string[],
): Verdict {
  const parsed: Prefix[] = [];
  for (const n of networks) {
    const p = parsePrefixText(n);
    if (p.ok) parsed.push(p.value);
  }
  const ranges = check.ranges.map((r) => r.text);
  const hits = parsed.filter((n) => check.ranges.some((r) => overlaps(n, r)));
  if (check.action === 'allow') {
    if (hits.length > 0) return pass;
    const on = parsed.length === 0 ? 'no local network' : listText(parsed.map((p) => p.text));
    return fail(`Connect to one of these networks: ${listText(ranges)} (this device is on ${on}).`);
  }
  if (hits.length === 0) return pass;
  return fail(
    `Disconnect from ${listText(hits.map((p) => p.text))}: access is not allowed from that network.`,
  );
}

const processOs = (os: OsKind): ProcessOs | null =>
  os === 'linux' || os === 'macos' || os === 'windows' ? os : null;

function processes(
  required: ReadonlyArray<Readonly<Partial<Record<ProcessOs, string>>>>,
  info: HostInfo,
): Verdict {
  const os = processOs(info.os);
  // Windows paths are case-insensitive; elsewhere a path is exact.
  const norm = (p: string): string => (os === 'windows' ? p.toLowerCase() : p);
  const running = new Set(info.posture.runningProcesses.map(norm));
  const missing: string[] = [];
  for (const p of required) {
    const path = os === null ? undefined : p[os];
    if (path === undefined) {
      return fail(
        `Access requires a process that has no ${OS_LABEL[info.os]} version; use another device.`,
      );
    }
    if (!running.has(norm(path))) missing.push(path);
  }
  if (missing.length === 0) return pass;
  return fail(
    missing.length === 1
      ? `Start ${missing[0]} (it is not running).`
      : `Start these programs (they are not running): ${listText(missing)}.`,
  );
}

/** What the helper is asked to report: only the process paths some check names, for privacy. */
export function postureQueries(policy: Pick<Policy, 'postures'>): PostureQueries {
  const paths = new Set<string>();
  for (const posture of policy.postures) {
    for (const check of posture.checks) {
      if (check.kind !== 'process') continue;
      for (const p of check.processes) for (const v of Object.values(p)) paths.add(v);
    }
  }
  return { processPaths: [...paths] };
}
