/** `trellis help [command]`. Kept in step with docs/cli.md. */
import { defaultLocalApiEndpoint } from '../../shared/schema/localapi.js';

const PREF_FLAGS = `  --hostname NAME                 name to register as (empty: the OS hostname)
  --accept-routes[=true|false]    install subnet routes that peers offer
  --advertise-routes CIDRS        offer these subnets, comma-separated (empty: none)
  --advertise-exit-node[=BOOL]    offer this device as an exit node
  --exit-node NODE                use an exit node: a name, a mesh IP, "auto", or "" for none
  --exit-node-allow-lan[=BOOL]    keep the local LAN reachable while using an exit node
                                  (also --exit-node-allow-lan-access)
  --accept-dns[=BOOL]             let the network's DNS settings take over
  --block-incoming[=BOOL]         refuse all incoming connections from peers`;

const TOPICS: Record<string, string> = {
  up: `trellis up [flags]
  Connect: log in if needed (prints a login URL and waits), then bring the tunnels up.
  --control-url URL               the control server (only before the first login)
  --auth-key KEY                  log in with a pre-auth key instead of a browser
  --timeout DURATION              give up waiting after this long (e.g. 2m; default: wait)
${PREF_FLAGS}
`,
  down: `trellis down
  Remove peers and routes; stay logged in. 'trellis up' brings them back.
`,
  login: `trellis login [--control-url URL] [--auth-key KEY] [--timeout DURATION]
  Log in (again) without changing other settings.
`,
  logout: `trellis logout
  Log this device out at control and forget its credential.
`,
  status: `trellis status [--json]
  This device, its peers (name, IP, OS, online, path, endpoint, last handshake, traffic), health.
`,
  ip: `trellis ip [-4|-6] [PEER]
  Print this device's (or a peer's) mesh addresses.
`,
  ping: `trellis ping PEER [-c COUNT] [--timeout DURATION]
  Ping a peer through the tunnel and show the path used. PEER is a name, FQDN or mesh IP.
`,
  set: `trellis set [flags]
  Change settings without reconnecting.
${PREF_FLAGS}
`,
  'exit-node': `trellis exit-node list|suggest [--json]
  list: the exit nodes offered to this device (online, latency, the one in use).
  suggest: the one \`--exit-node=auto\` would pick now (online, lowest latency).
`,
  netcheck: `trellis netcheck [--json]
  Report what this network allows (UDP, NAT type, relay latencies).
`,
  version: `trellis version [--json]
  Print the CLI's and the daemon's versions.
`,
};

export function usage(topic: string | null): string {
  if (topic && TOPICS[topic]) return TOPICS[topic];
  return `usage: trellis <command> [flags]

commands:
  up        connect (log in if needed)
  down      disconnect, stay logged in
  login     log in again
  logout    log out and forget the credential
  status    show this device and its peers (--json for the raw status)
  ip        print mesh addresses
  ping      ping a peer through the tunnel
  set       change settings
  exit-node list or suggest exit nodes
  netcheck  check what the network allows
  version   print versions
  help      this text, or 'trellis help <command>'

global flags:
  --socket PATH   the trellisd socket (default: $TRELLIS_SOCKET or ${defaultLocalApiEndpoint(process.platform)})
`;
}
