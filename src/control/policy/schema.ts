/**
 * The shape of a policy document as written (before names are resolved): zod checks structure,
 * types and bounds here; document.ts then resolves selectors, groups, tags and postures. Objects
 * are strict — an unknown key is almost always a typo ("acl", "srcPostures") and silently
 * ignoring it would quietly change who may reach what.
 */
import * as z from 'zod';
import { MAX_PATH_LENGTH, MAX_POSTURE_RESULTS, SemVer } from '../../shared/schema/common.js';
import { MAX_FILTER_RULES } from '../../shared/schema/control/netmap.js';
import { MAX_REPORTED_PROCESSES } from '../../shared/schema/control/hostinfo.js';

/**
 * Largest policy text accepted. Hand-written policies for thousands of devices run to tens of
 * kilobytes; 1 MiB leaves room for generated ones while keeping parse and validation well under
 * a second.
 */
export const MAX_POLICY_BYTES = 1024 * 1024;
/**
 * ACL rules. A rule compiles to at most two filter rules per destination device (one for plain
 * destinations, one for autogroup:self), so this keeps every device's filter within
 * MAX_FILTER_RULES.
 */
export const MAX_ACL_RULES = Math.floor(MAX_FILTER_RULES / 2);
/** Entries in one rule's src or dst, or one approver/owner list. */
export const MAX_SELECTORS = 1024;
/** Groups, hosts and tags declared. */
export const MAX_GROUPS = 4096;
export const MAX_HOSTS = 4096;
export const MAX_TAGS_DECLARED = 1024;
/** Members of one group: a large company's all-staff group imported by hand. */
export const MAX_GROUP_MEMBERS = 20_000;
/** Longest group name: OIDC claims may be LDAP DNs (see MAX_OIDC_GROUP_LENGTH in auth/oidc.ts). */
export const MAX_GROUP_NAME_LENGTH = 256;
/** Postures, and checks in one posture; every check is one PostureResult per device. */
export const MAX_POSTURES = 64;
export const MAX_CHECKS_PER_POSTURE = 32;
export const MAX_TOTAL_POSTURE_CHECKS = MAX_POSTURE_RESULTS;
/** Postures one rule can require. */
export const MAX_RULE_POSTURES = 16;
/** Countries or ranges in one geolocation or local-network check. */
export const MAX_CHECK_ITEMS = 256;
/** Processes one check requires. Paths across all checks are bounded by what devices report. */
export const MAX_PROCESSES_PER_CHECK = 32;
export const MAX_TOTAL_PROCESS_PATHS = MAX_REPORTED_PROCESSES;
/** autoApprovers route entries. */
export const MAX_AUTO_APPROVER_ROUTES = 1024;
/** Policy tests, and accept/deny entries in one test. */
export const MAX_TESTS = 1024;
export const MAX_TEST_ENTRIES = 256;
/** Any single string in the document (selectors, emails, paths). */
const MAX_STRING = MAX_PATH_LENGTH;

const Str = z.string().min(1, 'must not be empty').max(MAX_STRING);
const List = z.array(Str).max(MAX_SELECTORS);
const NonEmptyList = List.min(1, 'must list at least one entry');

/** A string-keyed map with at most `max` entries (JSON objects cannot be bounded before parse). */
const bounded = <V extends z.ZodType>(key: z.ZodString, value: V, max: number, what: string) =>
  z.record(key, value).refine((r) => Object.keys(r).length <= max, `at most ${max} ${what}`);

export const GroupName = z
  .string()
  .max(6 + MAX_GROUP_NAME_LENGTH)
  .regex(
    /^group:[^\s\p{Cc}][^\p{Cc}]*$/u,
    'expected a group name such as "group:eng" (no leading space, no control characters)',
  );
export const TagName = z
  .string()
  .max(4 + 63)
  .regex(/^tag:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'expected a tag such as "tag:server"');
export const PostureName = z
  .string()
  .max(8 + 48)
  .regex(
    /^posture:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/,
    'expected a posture name such as "posture:corp"',
  );
export const HostName = z
  .string()
  .max(63)
  .regex(
    /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/,
    'expected a host alias such as "db" or "db-1" (lowercase letters, digits, ".", "_", "-")',
  );
export const CheckName = z
  .string()
  .max(64)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'expected a check name such as "min-version"');

export const Proto = z.enum(['tcp', 'udp', 'icmp', 'any']);

const OsVersionText = z
  .string()
  .regex(/^\d{1,9}(?:\.\d{1,9}){0,3}$/, 'expected a version such as "5.15" or "10.0.19045"');
const Action = z.enum(['allow', 'deny']);
const Country = z
  .string()
  .regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code such as "DE"');
const ProcessPath = z.string().min(1).max(MAX_PATH_LENGTH);

export const RawCheck = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('min-client-version'),
    name: CheckName.optional(),
    version: SemVer,
  }),
  z
    .strictObject({
      kind: z.literal('min-os-version'),
      name: CheckName.optional(),
      linux: OsVersionText.optional(),
      windows: OsVersionText.optional(),
      macos: OsVersionText.optional(),
      ios: OsVersionText.optional(),
      android: OsVersionText.optional(),
      freebsd: OsVersionText.optional(),
    })
    .refine(
      (c) => ['linux', 'windows', 'macos', 'ios', 'android', 'freebsd'].some((k) => k in c),
      'name the minimum version for at least one OS (linux, windows, macos, ios, android, freebsd)',
    ),
  z.strictObject({
    kind: z.literal('geolocation'),
    name: CheckName.optional(),
    action: Action,
    countries: z.array(Country).min(1).max(MAX_CHECK_ITEMS),
  }),
  z.strictObject({
    kind: z.literal('local-network'),
    name: CheckName.optional(),
    action: Action,
    ranges: z.array(Str).min(1).max(MAX_CHECK_ITEMS),
  }),
  z.strictObject({
    kind: z.literal('process'),
    name: CheckName.optional(),
    processes: z
      .array(
        z
          .strictObject({
            linux: ProcessPath.optional(),
            macos: ProcessPath.optional(),
            windows: ProcessPath.optional(),
          })
          .refine(
            (p) => p.linux !== undefined || p.macos !== undefined || p.windows !== undefined,
            'give the process path for at least one OS (linux, macos, windows)',
          ),
      )
      .min(1)
      .max(MAX_PROCESSES_PER_CHECK),
  }),
]);
export type RawCheck = z.infer<typeof RawCheck>;

export const RawRule = z.strictObject({
  action: z.literal('accept', 'the only action is "accept": anything not accepted is denied'),
  src: NonEmptyList,
  dst: NonEmptyList,
  proto: Proto.optional(),
  srcPosture: z.array(Str).max(MAX_RULE_POSTURES).optional(),
});
export type RawRule = z.infer<typeof RawRule>;

export const RawTest = z.strictObject({
  src: Str,
  proto: z.enum(['tcp', 'udp', 'icmp']).optional(),
  accept: z.array(Str).max(MAX_TEST_ENTRIES).optional(),
  deny: z.array(Str).max(MAX_TEST_ENTRIES).optional(),
});
export type RawTest = z.infer<typeof RawTest>;

export const RawPolicy = z.strictObject({
  groups: bounded(GroupName, z.array(Str).max(MAX_GROUP_MEMBERS), MAX_GROUPS, 'groups').optional(),
  tagOwners: bounded(TagName, List, MAX_TAGS_DECLARED, 'tags').optional(),
  hosts: bounded(HostName, Str, MAX_HOSTS, 'hosts').optional(),
  acls: z.array(RawRule).max(MAX_ACL_RULES).optional(),
  postures: bounded(
    PostureName,
    z.array(RawCheck).min(1).max(MAX_CHECKS_PER_POSTURE),
    MAX_POSTURES,
    'postures',
  ).optional(),
  autoApprovers: z
    .strictObject({
      routes: bounded(z.string().max(64), List, MAX_AUTO_APPROVER_ROUTES, 'routes').optional(),
      exitNode: List.optional(),
    })
    .optional(),
  tests: z.array(RawTest).max(MAX_TESTS).optional(),
});
export type RawPolicy = z.infer<typeof RawPolicy>;
