/**
 * `system-dns-probe.ts --dev IF --netmap FILE`: inside a namespace, applies to IF what trellisd
 * would for MagicDNS (mesh address, 100.100.100.100 with host scope, system DNS planned from the
 * netmap as with acceptDNS), with the real OS configurator and no --netns, so system DNS goes
 * through /etc/resolv.conf exactly as trellisd's does there. Prints a SystemDnsProbeReady line;
 * on SIGTERM tears everything down and exits.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { planDns } from '../../src/helper/dns/plan.js';
import { LinuxOsConfigurator } from '../../src/helper/os/linux.js';
import { Netmap } from '../../src/shared/schema/control/netmap.js';
import type { SystemDnsProbeReady } from './os-probes.js';
import { closeOnSignal, emit, usage } from './script-main.js';

const SYNOPSIS = 'system-dns-probe.ts --dev IF --netmap FILE';
const { values } = parseArgs({
  options: { dev: { type: 'string' }, netmap: { type: 'string' } },
  strict: true,
});
const dev = values.dev ?? usage('system-dns-probe', '--dev is required', SYNOPSIS);
const file = values.netmap ?? usage('system-dns-probe', '--netmap is required', SYNOPSIS);
const netmap = Netmap.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
const plan = planDns({
  netmap,
  prefs: { acceptDNS: true, advertiseExitNode: false },
  exitNode: null,
  resolverAvailable: true,
});
if (plan.system === null) usage('system-dns-probe', 'the netmap asks for no system DNS', SYNOPSIS);
const os = new LinuxOsConfigurator({ interfaceName: dev });
await os.apply({
  interfaceName: dev,
  addresses: [`${netmap.self.addresses.ipv4}/32`],
  localAddresses: plan.localAddresses,
  mtu: 1420,
  routes: [],
  dns: plan.system,
});
// Nothing else keeps the event loop alive: wait here until the signal.
const keepAlive = setInterval(() => undefined, 60_000);
closeOnSignal(async () => {
  clearInterval(keepAlive);
  await os.teardown();
});
const ready: SystemDnsProbeReady = {
  ready: true,
  service: 'system-dns',
  listening: [],
  warnings: [...os.warnings()],
};
emit(ready);
