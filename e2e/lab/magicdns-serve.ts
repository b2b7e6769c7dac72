/**
 * Runs the helper's MagicDNS resolver alone in a namespace, for the OS-level DNS tests:
 * `magicdns-serve.ts --netmap FILE` plans DNS from the netmap (as trellisd does with acceptDNS)
 * and serves it. Prints a ReadyLine with the addresses it listens on; stops on SIGTERM.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Netmap } from '../../src/shared/schema/control/netmap.js';
import { planDns } from '../../src/helper/dns/plan.js';
import { MagicDnsServer } from '../../src/helper/dns/server.js';
import { closeOnSignal, emit, usage } from './script-main.js';
import type { ReadyLine } from './script-output.js';

const SYNOPSIS = 'magicdns-serve.ts --netmap FILE';
const { values } = parseArgs({ options: { netmap: { type: 'string' } }, strict: true });
const file = values.netmap ?? usage('magicdns-serve', '--netmap is required', SYNOPSIS);
const netmap = Netmap.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
const plan = planDns({
  netmap,
  prefs: { acceptDNS: true, advertiseExitNode: false },
  exitNode: null,
  resolverAvailable: true,
});
const log = {
  debug: () => undefined,
  info: () => undefined,
  warn: (o: object, m: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`),
  error: (o: object, m: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`),
};
const server = new MagicDnsServer({ log });
const problems = await server.update(plan.resolver);
if (problems.length > 0 || plan.resolver === null) {
  process.stderr.write(`magicdns-serve: ${problems.join('; ') || 'nothing to serve'}\n`);
  process.exit(1);
}
closeOnSignal(() => server.close());
const ready: ReadyLine = { ready: true, service: 'magicdns', listening: server.addresses() };
emit(ready);
