/**
 * A relay region running apart from control, as operators deploy extra regions: our STUN server
 * and a standalone relay (src/control/relay startRelayServer) on one address.
 *
 *   node --import tsx e2e/lab/region-server.ts --host ADDR --region-id N --verify-key FILE
 *        [--stun-port N] [--relay-port N]
 *
 * FILE is control's relay-token public key (SPKI PEM). Prints a RegionReadyLine; stops on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { parseRelayVerifyKey, startRelayServer } from '../../src/control/relay/index.js';
import { startStunServer } from '../../src/control/stun/index.js';
import type { RegionReadyLine } from './script-output.js';
import { closeOnSignal, emit, parseIntArg, parsePort, usage } from './script-main.js';

const SYNOPSIS =
  'region-server.ts --host ADDR --region-id N --verify-key FILE [--stun-port N] [--relay-port N]';
const DEFAULT_STUN_PORT = 3478;
const DEFAULT_RELAY_PORT = 80;
const MAX_REGION_ID = 65535;

const { values } = parseArgs({
  options: {
    host: { type: 'string' },
    'region-id': { type: 'string' },
    'verify-key': { type: 'string' },
    'stun-port': { type: 'string' },
    'relay-port': { type: 'string' },
  },
  strict: true,
});
const host = values.host ?? usage('region-server', '--host is required', SYNOPSIS);
if (net.isIP(host) === 0) usage('region-server', `--host must be an IP literal`, SYNOPSIS);
const regionId = parseIntArg(values['region-id'], MAX_REGION_ID);
if (regionId === undefined || regionId < 1) usage('region-server', 'bad --region-id', SYNOPSIS);
const keyFile =
  values['verify-key'] ?? usage('region-server', '--verify-key is required', SYNOPSIS);
const stunPort =
  values['stun-port'] === undefined ? DEFAULT_STUN_PORT : parsePort(values['stun-port']);
const relayPort =
  values['relay-port'] === undefined ? DEFAULT_RELAY_PORT : parsePort(values['relay-port']);
if (stunPort === undefined || relayPort === undefined) {
  usage('region-server', 'bad --stun-port or --relay-port', SYNOPSIS);
}

const publicKey = parseRelayVerifyKey(readFileSync(keyFile, 'utf8'));
const stun = await startStunServer({ host, port: stunPort });
const relay = await startRelayServer({ host, port: relayPort, regionId, publicKey });
closeOnSignal(async () => {
  await relay.close();
  await stun.close();
});
const ready: RegionReadyLine = {
  ready: true,
  service: 'region',
  regionId,
  listening: [
    { address: stun.address().address, port: stun.address().port },
    { address: host, port: relay.port },
  ],
  stun: { address: stun.address().address, port: stun.address().port },
  relayUrl: relay.url,
};
emit(ready);
