/**
 * The IPC channel table without its schemas: area → name → kind. It exists for the sandboxed
 * preload, which can only `require('electron')` and so must not pull zod, ipaddr.js and every
 * schema into its single-file bundle just to know which channels to forward. ipc.ts checks at
 * compile time that this table and `ipcSchema` declare exactly the same channels and kinds.
 */
export const ipcChannelTable = {
  state: { get: 'invoke', changed: 'notify' },
  tunnel: { connect: 'invoke', disconnect: 'invoke' },
  exitNode: { set: 'invoke', setAllowLan: 'invoke', suggest: 'invoke' },
  routes: { setAcceptRoutes: 'invoke', setAdvertised: 'invoke', setAdvertiseExitNode: 'invoke' },
  settings: { update: 'invoke' },
  account: { login: 'invoke', cancelLogin: 'send', logout: 'invoke' },
  diagnostics: { netcheck: 'invoke', ping: 'invoke' },
  app: {
    getInfo: 'invoke',
    openExternal: 'send',
    openAdminConsole: 'send',
    copyText: 'send',
    quit: 'send',
    navigate: 'notify',
    notice: 'notify',
  },
} as const;
export type IpcChannelTable = typeof ipcChannelTable;

type Kind = 'invoke' | 'send' | 'notify';

/** Every channel name, "area:name". The preload allows these and nothing else. */
export const ipcChannels: readonly string[] = Object.entries(ipcChannelTable).flatMap(
  ([area, group]) => Object.keys(group).map((name) => `${area}:${name}`),
);

/** The kind of each channel, so the preload can refuse e.g. an `invoke` of a notify channel. */
export const ipcChannelKinds: ReadonlyMap<string, Kind> = new Map(
  Object.entries(ipcChannelTable).flatMap(([area, group]) =>
    Object.entries(group).map(([name, kind]): [string, Kind] => [`${area}:${name}`, kind]),
  ),
);

/** Version of the IPC; the web bridge compares it with the page's before wiring channels. */
export const IPC_VERSION = 1;
