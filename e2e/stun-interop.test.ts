/**
 * Interop of Trellis's STUN client and server with coturn, a widely deployed implementation:
 * coturn's `turnserver` answers our client, and coturn's `turnutils_stunclient` queries our
 * server. Everything runs on loopback (127.0.0.1 and ::1) with ports picked at run time.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { constants as fsConstants } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StunServer, startStunServer } from '../src/control/stun/index.js';
import { stunBinding } from '../src/helper/stun/index.js';
import {
  type Addr,
  decodeStun,
  encodeBindingRequest,
  findAttribute,
  mappedAddressOf,
  newTransactionId,
} from '../src/shared/stun/index.js';

const INSTALL_HINT = 'install coturn (apt-get install coturn)';
/** coturn needs a moment to set up its listeners; on a loaded CI machine allow several seconds. */
const COTURN_READY_TIMEOUT_MS = 15_000;
const COTURN_STOP_TIMEOUT_MS = 5_000;
const STUNCLIENT_TIMEOUT_MS = 15_000;

const execFileAsync = promisify(execFile);

async function findExecutable(name: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '')
    .split(path.delimiter)
    .concat('/usr/bin', '/usr/sbin')) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} not found: ${INSTALL_HINT}`);
}

async function bindUdp(
  type: 'udp4' | 'udp6',
  address: string,
  port: number,
): Promise<dgram.Socket | undefined> {
  const socket = dgram.createSocket(type);
  return new Promise((resolve) => {
    socket.once('error', () => resolve(undefined));
    socket.bind({ address, port }, () => resolve(socket));
  });
}

/**
 * A port P with P and P+1 free on 127.0.0.1 and ::1: coturn also listens on P+1, its RFC 5780
 * "alternate port". The sockets are closed just before coturn starts (a small, accepted race).
 */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bindUdp('udp4', '127.0.0.1', 0);
    if (first === undefined) continue;
    const port = first.address().port;
    const others =
      port < 65535
        ? await Promise.all([
            bindUdp('udp4', '127.0.0.1', port + 1),
            bindUdp('udp6', '::1', port),
            bindUdp('udp6', '::1', port + 1),
          ])
        : [undefined];
    const sockets = [first, ...others];
    await Promise.all(
      sockets.map((s) => s && new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    if (others.every((s) => s !== undefined)) return port;
  }
  throw new Error('no free UDP port pair on loopback');
}

interface Coturn {
  readonly process: ChildProcess;
  readonly port: number;
  readonly output: () => string;
}

let workDir: string;
let coturn: Coturn | undefined;
let stunclientPath: string;

async function startCoturn(turnserverPath: string): Promise<Coturn> {
  const port = await freePortPair();
  const args = [
    '-n', // no config file: everything is on this command line
    '--listening-ip=127.0.0.1',
    '--listening-ip=::1',
    `--listening-port=${port}`,
    '--stun-only',
    '--no-tls',
    '--no-dtls',
    '--no-tcp',
    '--no-cli',
    '--log-file=stdout',
    '--simple-log',
    `--pidfile=${path.join(workDir, 'turnserver.pid')}`,
    `--userdb=${path.join(workDir, 'turndb')}`, // keep coturn away from /var/lib/turn
  ];
  const child = spawn(turnserverPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { process: child, port, output: () => output };
}

/** Ready once coturn answers a Binding request on IPv4 and IPv6. */
async function waitForCoturn(c: Coturn): Promise<void> {
  const deadline = Date.now() + COTURN_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (c.process.exitCode !== null) {
      throw new Error(`turnserver exited with ${c.process.exitCode}:\n${c.output()}`);
    }
    const [v4, v6] = await Promise.all([
      stunBinding(
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: c.port },
        { timeoutMs: 300, retries: 1 },
      ),
      stunBinding(
        { host: '::1', port: 0 },
        { host: '::1', port: c.port },
        { timeoutMs: 300, retries: 1 },
      ),
    ]);
    if (v4.ok && v6.ok) return;
  }
  throw new Error(
    `turnserver did not answer STUN within ${COTURN_READY_TIMEOUT_MS} ms:\n${c.output()}`,
  );
}

async function stopCoturn(c: Coturn): Promise<void> {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.process.once('exit', () => resolve()));
  c.process.kill('SIGTERM');
  const timer = setTimeout(() => c.process.kill('SIGKILL'), COTURN_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function openSocket(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  const socket = await bindUdp(type, address, 0);
  if (socket === undefined) throw new Error(`cannot bind ${address}`);
  return socket;
}

const closeSocket = (s: dgram.Socket): Promise<void> =>
  new Promise((resolve) => s.close(() => resolve()));

/** Runs `turnutils_stunclient` and returns every "UDP reflexive addr" it printed. */
async function turnutilsReflexive(host: string, port: number): Promise<Addr[]> {
  const { stdout, stderr } = await execFileAsync(stunclientPath, ['-p', String(port), host], {
    timeout: STUNCLIENT_TIMEOUT_MS,
  });
  const found: Addr[] = [];
  for (const line of `${stdout}\n${stderr}`.split('\n')) {
    const match = /(IPv[46])\. UDP reflexive addr: (.+):(\d+)\s*$/.exec(line);
    if (match) {
      found.push({
        address: match[2]!,
        port: Number(match[3]),
        family: match[1] === 'IPv6' ? 6 : 4,
      });
    }
  }
  if (found.length === 0)
    throw new Error(`no reflexive address in turnutils_stunclient output:\n${stdout}${stderr}`);
  return found;
}

beforeAll(async () => {
  const turnserverPath = await findExecutable('turnserver');
  stunclientPath = await findExecutable('turnutils_stunclient');
  workDir = await mkdtemp(path.join(tmpdir(), 'trellis-coturn-'));
  coturn = await startCoturn(turnserverPath);
  await waitForCoturn(coturn);
});

afterAll(async () => {
  if (coturn) await stopCoturn(coturn);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('our STUN client against coturn', () => {
  for (const [type, host] of [
    ['udp4', '127.0.0.1'],
    ['udp6', '::1'],
  ] as const) {
    it(`learns the right reflexive address over ${host}`, async () => {
      const socket = await openSocket(type, host);
      try {
        const result = await stunBinding(socket, { host, port: coturn!.port }, { timeoutMs: 3000 });
        if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
        expect(result.value.mapped).toEqual({
          address: host,
          port: socket.address().port,
          family: type === 'udp4' ? 4 : 6,
        });
        expect(result.value.server?.port).toBe(coturn!.port);
      } finally {
        await closeSocket(socket);
      }
    });
  }

  it("decodes coturn's full response (XOR-MAPPED-ADDRESS, SOFTWARE, attributes we do not use)", async () => {
    const socket = await openSocket('udp4', '127.0.0.1');
    try {
      const id = newTransactionId();
      const response = await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer from coturn')), 3000);
        socket.once('message', (packet) => {
          clearTimeout(timer);
          resolve(packet);
        });
        socket.send(
          encodeBindingRequest(id, { software: 'trellis-e2e' }),
          coturn!.port,
          '127.0.0.1',
        );
      });
      const decoded = decodeStun(response);
      if (!decoded.ok) throw new Error(`${decoded.error.code}: ${decoded.error.message}`);
      expect(decoded.value.cls).toBe('success');
      expect(decoded.value.transactionId).toEqual(id);
      expect(mappedAddressOf(decoded.value)).toEqual({
        address: '127.0.0.1',
        port: socket.address().port,
        family: 4,
      });
      expect(findAttribute(decoded.value, 'software')?.value).toMatch(/coturn/i);
    } finally {
      await closeSocket(socket);
    }
  });
});

describe("coturn's turnutils_stunclient against our STUN server", () => {
  for (const host of ['127.0.0.1', '::1']) {
    it(`reports the mapped address our server saw, over ${host}`, async () => {
      const seen: Addr[] = [];
      const server: StunServer = await startStunServer({
        host,
        port: 0,
        logger: {
          debug: (details: { from?: Addr }) => void (details.from && seen.push(details.from)),
          warn: () => undefined,
        },
      });
      try {
        const reported = await turnutilsReflexive(host, server.address().port);
        expect(seen.length).toBeGreaterThan(0);
        for (const addr of reported) {
          expect(addr).toEqual(seen[0]);
          expect(addr.address).toBe(host);
        }
        expect(server.counters().answered).toBe(seen.length);
      } finally {
        await server.close();
      }
    });
  }
});
