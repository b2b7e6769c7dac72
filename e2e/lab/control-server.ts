/**
 * trellis-control (src/control/app.ts startControl) as a program to run inside a lab namespace:
 * `node --import tsx e2e/lab/control-server.ts --config FILE [--preauth-key]`, where FILE is a
 * JSON control config. TRELLIS_* environment variables are ignored: the lab's config is the whole
 * truth, not the host's environment. Logs go to stderr; a ControlReadyLine goes to stdout once it
 * listens. With --preauth-key, a first run (one that creates the owner) also makes a reusable
 * pre-auth key of the owner's, for devices to join with `trellis up --auth-key`; later runs on the
 * same data directory report none (the devices are registered by then).
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startControl } from '../../src/control/app.js';
import { parseConfig } from '../../src/control/config.js';
import type { ControlReadyLine } from './script-output.js';
import { closeOnSignal, emit, usage } from './script-main.js';

const SYNOPSIS = 'control-server.ts --config FILE [--preauth-key]';
/** Longer than any lab run; short enough that a leaked lab database holds no lasting secret. */
const PREAUTH_KEY_TTL_MS = 24 * 3_600_000;

const { values } = parseArgs({
  options: { config: { type: 'string' }, 'preauth-key': { type: 'boolean' } },
  strict: true,
});
const file = values.config ?? usage('control-server', '--config is required', SYNOPSIS);
let raw: unknown;
try {
  raw = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  usage('control-server', `cannot read ${file}: ${(e as Error).message}`, SYNOPSIS);
}
const config = parseConfig(raw);
if (!config.ok) usage('control-server', config.error.message, SYNOPSIS);

const server = await startControl(config.value, {
  logger: pino({ level: config.value.logLevel }, pino.destination(2)),
});
closeOnSignal(() => server.stop());
const owner = server.bootstrap.owner;
let authKey: string | null = null;
if (values['preauth-key'] && owner) {
  const networkId = server.bootstrap.network.id;
  const user = await server.store.users.findByEmail(networkId, owner.email);
  const created = await server.store.preauthKeys.create({
    networkId,
    createdBy: user?.id ?? null,
    description: 'lab devices',
    expiresAt: new Date(Date.now() + PREAUTH_KEY_TTL_MS),
    reusable: true,
  });
  authKey = created.key;
}
const bound = server.app.server.address() as AddressInfo;
const stun = server.stun?.address();
const ready: ControlReadyLine = {
  ready: true,
  service: 'control',
  listening: [{ address: bound.address, port: bound.port }],
  url: server.url,
  owner: owner ? { email: owner.email, password: owner.password } : null,
  authKey,
  stun: stun ? { address: stun.address, port: stun.port } : null,
};
emit(ready);
