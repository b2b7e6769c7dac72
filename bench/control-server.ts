/**
 * A trellis-control for benchmarks, in its own process so its CPU and memory are measured apart
 * from the simulated devices. Prints one `BENCH {...}` line with its URL and owner credentials.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseConfig } from '../src/control/config.js';
import { startControl } from '../src/control/app.js';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-'));
const cfg = parseConfig({
  dataDir,
  insecureHttp: true,
  listen: { host: '127.0.0.1', port: 0 },
  stun: { enabled: false },
  network: { name: 'Bench', domain: 'bench.trellis' },
  // The bench registers thousands of devices from one address.
  rateLimits: {
    registerPerSecond: 1e6,
    registerBurst: 1e6,
    signInPerMinute: 1e6,
    signInBurst: 1e6,
  },
  logLevel: 'silent',
});
if (!cfg.ok) throw new Error(cfg.error.message);
const origWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write; // silence the first-run banner
const server = await startControl(cfg.value, { logger: pino({ level: 'silent' }) });
process.stdout.write = origWrite;
const owner = server.bootstrap.owner;
origWrite(
  `BENCH ${JSON.stringify({ url: server.url, email: owner?.email, password: owner?.password, pid: process.pid })}\n`,
);

// BENCH_PROFILE: SIGUSR2 starts a CPU profile, the next SIGUSR2 writes it (the measured phase only).
if (process.env.BENCH_PROFILE) {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  let running = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!running) {
        running = true;
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
        return;
      }
      running = false;
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
    })();
  });
}

const stop = async () => {
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
