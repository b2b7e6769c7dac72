/**
 * `trellis-control devices ...`: list, rename, delete, approve, expire, expiry on|off, tags.
 * Without --server these change the database only; a running server picks them up at restart.
 */
import type { AdminDevice } from '../../../shared/schema/control/admin.js';
import { DeviceName, Tags } from '../../../shared/schema/common.js';
import type { AdminApi } from '../../admin/service.js';
import { onOff, parseRequest, str, type Command, type RunContext } from '../command.js';
import { fmtTime, table } from '../output.js';
import { listAll, resolveDevice, resolveUser } from '../resolve.js';
import { withAdmin } from '../session.js';

const ownerText = (d: AdminDevice): string =>
  d.owner.type === 'user' ? (d.owner.user.email ?? d.owner.user.id) : d.owner.tags.join(',');

function expiryText(d: AdminDevice, now: number): string {
  if (d.keyExpiryDisabled) return 'disabled';
  if (!d.keyExpiry) return '-';
  return Date.parse(d.keyExpiry) <= now ? 'expired' : fmtTime(d.keyExpiry);
}

function deviceTable(devices: AdminDevice[], live: boolean): string {
  const now = Date.now();
  return table(
    ['ID', 'NAME', 'IPV4', 'OWNER', 'OS', 'ONLINE', 'LAST SEEN', 'KEY EXPIRY', 'STATUS'],
    devices.map((d) => [
      d.id,
      d.name,
      d.addresses.ipv4,
      ownerText(d),
      d.os,
      // Only a running server sees map streams; the database alone cannot say who is online.
      live ? (d.online ? 'yes' : 'no') : '?',
      fmtTime(d.lastSeen),
      expiryText(d, now),
      d.approved ? 'approved' : 'pending',
    ]),
  );
}

/** `devices <verb> DEVICE ...`: resolve, change, print the device. */
function deviceChange(
  verb: string,
  argsUsage: string,
  summary: string,
  extraArgs: number,
  change: (api: AdminApi, d: AdminDevice, args: readonly string[]) => Promise<AdminDevice>,
  done: (d: AdminDevice) => string,
): Command {
  return {
    name: `devices ${verb}`,
    argsUsage,
    summary,
    minArgs: 1 + Math.max(0, extraArgs),
    maxArgs: extraArgs < 0 ? Number.MAX_SAFE_INTEGER : 1 + extraArgs,
    run: ({ args, opts, out }: RunContext) =>
      withAdmin(opts, out, async ({ api, live }) => {
        const d = await change(api, await resolveDevice(api, args[0] ?? ''), args.slice(1));
        out.emit(d, () => done(d));
        if (!live && !out.json)
          out.note(
            'Changed in the database; a running server applies it at its next start (or use --server).',
          );
      }),
  };
}

/** "db" and "tag:db" both mean the tag "tag:db". */
const asTag = (t: string): string => (t.startsWith('tag:') ? t : `tag:${t}`);

export const deviceCommands: Command[] = [
  {
    name: 'devices list',
    summary: 'list devices with owner, addresses, presence and key expiry',
    options: { user: { type: 'string', value: 'USER', description: "only this user's devices" } },
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api, live }) => {
        let devices = await listAll((q) => api.listDevices(q));
        const userRef = str(opts, 'user');
        if (userRef) {
          const user = await resolveUser(api, userRef);
          devices = devices.filter((d) => d.owner.type === 'user' && d.owner.user.id === user.id);
        }
        out.emit(devices, () => deviceTable(devices, live));
      }),
  },
  deviceChange(
    'rename',
    'DEVICE NEW-NAME',
    'rename a device (its MagicDNS name); the name must be a free DNS label',
    1,
    (api, d, [name]) => api.updateDevice(d.id, { name: parseRequest(DeviceName, name) }),
    (d) => `Renamed to ${d.fqdn}.`,
  ),
  {
    name: 'devices delete',
    argsUsage: 'DEVICE',
    summary: 'remove a device from the network (it must register again to come back)',
    minArgs: 1,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const d = await resolveDevice(api, args[0] ?? '');
        await api.deleteDevice(d.id);
        out.emit({ deleted: d.id }, () => `Deleted ${d.name} (${d.id}).`);
      }),
  },
  deviceChange(
    'approve',
    'DEVICE',
    'approve a device waiting for admin approval',
    0,
    (api, d) => api.updateDevice(d.id, { approved: true }),
    (d) => `${d.name} is approved.`,
  ),
  deviceChange(
    'expire',
    'DEVICE',
    "expire a device's key now: it must sign in again",
    0,
    (api, d) => api.expireDevice(d.id),
    (d) => `The key of ${d.name} expired; it must sign in again.`,
  ),
  deviceChange(
    'expiry',
    'DEVICE on|off',
    'turn key expiry on or off for a device (off: its key never expires)',
    1,
    (api, d, [state]) =>
      api.updateDevice(d.id, { keyExpiryDisabled: !onOff(state ?? '', 'expiry') }),
    (d) => `Key expiry of ${d.name} is ${d.keyExpiryDisabled ? 'off' : 'on'}.`,
  ),
  deviceChange(
    'tags',
    'DEVICE [TAG...]',
    'set the tags of a device (tagged devices belong to no user); no tags clears them',
    -1,
    (api, d, tags) => api.updateDevice(d.id, { tags: parseRequest(Tags, tags.map(asTag)) }),
    (d) =>
      d.owner.type === 'tagged'
        ? `${d.name} is tagged ${d.owner.tags.join(', ')}.`
        : `${d.name} has no tags.`,
  ),
];
