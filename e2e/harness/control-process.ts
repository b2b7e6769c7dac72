/**
 * trellis-control as a child process (for a network namespace: `ip netns exec NS node --import
 * tsx e2e/harness/control-process.ts '<config json>'`). Creates a reusable pre-auth key for the
 * first-run owner and prints one `READY {...}` line with the URL, the owner's credentials and the
 * key; exits cleanly on SIGTERM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/control/config.js';
import { startControl } from '../../src/control/app.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-control-proc-'));
const cfg = parseConfig({
  dataDir,
  insecureHttp: true,
  logLevel: 'silent',
  ...(JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>),
});
if (!cfg.ok) throw new Error(cfg.error.message);
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write; // the first-run banner
const server = await startControl(cfg.value, { logger: pino({ level: 'silent' }) });
process.stdout.write = write;
const owner = server.bootstrap.owner;
const user = owner
  ? await server.store.users.findByEmail(server.bootstrap.network.id, owner.email)
  : null;
const { key } = await server.store.preauthKeys.create({
  networkId: server.bootstrap.network.id,
  createdBy: user?.id ?? null,
  expiresAt: new Date(Date.now() + 3_600_000),
  reusable: true,
});
write(
  `READY ${JSON.stringify({ url: server.url, owner, authKey: key, stunPort: server.stun?.address().port ?? null })}\n`,
);

const stop = async () => {
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
