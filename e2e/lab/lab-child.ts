/**
 * A lab run in a process of its own, for e2e/lab-netns.test.ts: builds a small lab (a service
 * with a STUN server, a NATed site with a device), writes a file into its work directory, prints
 * a LabChildReady line, then waits to be killed, or exits at once with --exit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LabChildReady } from './script-output.js';
import { emit } from './script-main.js';
import { startLabStunServer } from './stun.js';
import { createNatLab } from './topology.js';

const { values } = parseArgs({ options: { exit: { type: 'boolean' } }, strict: true });

const lab = await createNatLab();
const service = await lab.service('stun');
const stun = await startLabStunServer(lab, service);
const site = await lab.site({ name: 'home', nat: 'easy' });
await site.device('pc');
const workDir = lab.workDir();
writeFileSync(join(workDir, 'marker'), 'lab-child\n');
const ready: LabChildReady = {
  ready: true,
  prefix: lab.prefix,
  namespaces: lab.namespaces(),
  workDir,
  serverPid: stun.process.pid,
};
emit(ready);
if (values.exit) process.exit(0);
// Alive until a signal ends it.
setInterval(() => undefined, 1 << 30);
