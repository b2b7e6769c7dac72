/**
 * Starts a real trellis-control on loopback (SQLite in a temp dir, or PostgreSQL in a throwaway
 * schema) and offers the client steps tests repeat: password sign-in through the login pages,
 * device registration, and a map-stream client.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import WebSocket from 'ws';
import { generateKeyPair, keyToBase64 } from '../../src/shared/keys.js';
import { parseConfig, type ControlConfig } from '../../src/control/config.js';
import { startControl, type ControlServer } from '../../src/control/app.js';
import { testPgUrl } from '../../src/control/store/testing/pg-url.js';
import { MapServerMessage } from '../../src/shared/schema/control/map-stream.js';
import { applyNetmapPatch } from '../../src/shared/schema/control/netmap-patch.js';
import type { Netmap } from '../../src/shared/schema/control/netmap.js';
import type { HostInfo } from '../../src/shared/schema/control/hostinfo.js';

export type Driver = 'sqlite' | 'postgres';

export interface TestControl {
  readonly server: ControlServer;
  readonly url: string;
  readonly owner: { email: string; password: string };
  stop(): Promise<void>;
}

export async function startTestControl(
  driver: Driver,
  over: Record<string, unknown> = {},
): Promise<TestControl> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-control-'));
  let pgSchema: string | undefined;
  let database: Record<string, unknown> = { driver: 'sqlite' };
  if (driver === 'postgres') {
    const url = testPgUrl();
    pgSchema = `t_${crypto.randomBytes(6).toString('hex')}`;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(`CREATE SCHEMA ${pgSchema}`);
    await c.end();
    database = { driver: 'postgres', url };
  }
  const cfg = parseConfig({
    dataDir,
    insecureHttp: true,
    listen: { host: '127.0.0.1', port: 0 },
    stun: { enabled: true, host: '127.0.0.1', port: 0 },
    database,
    network: { name: 'Test', domain: 'test.trellis' },
    logLevel: 'silent',
    ...over,
  });
  if (!cfg.ok) throw new Error(cfg.error.message);
  const server = await startControl(cfg.value as ControlConfig, {
    logger: pino({ level: 'silent' }),
    ...(pgSchema ? { pgSchema } : {}),
  });
  const owner = server.bootstrap.owner;
  if (!owner) throw new Error('expected a first-run owner');
  return {
    server,
    url: server.url,
    owner,
    stop: async () => {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (pgSchema) {
        const c = new pg.Client({ connectionString: testPgUrl() });
        await c.connect();
        await c.query(`DROP SCHEMA ${pgSchema} CASCADE`);
        await c.end();
      }
    },
  };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** One JSON request with a bearer token (an admin API call, usually). */
export async function callApi(
  base: string,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** The whole interactive login: start, submit the password form, poll. Returns the session token. */
export async function passwordLogin(
  base: string,
  email: string,
  password: string,
): Promise<string> {
  const start = await postJson(`${base}/v1/login`, { clientName: 'test' });
  if (start.status !== 201) throw new Error(`login start: ${start.status}`);
  const form = new URLSearchParams({ email, password });
  const page = await fetch(start.body.url, {
    method: 'POST',
    body: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (page.status !== 200) throw new Error(`login form: ${page.status}`);
  const poll = await postJson(`${base}/v1/login/poll`, { pollToken: start.body.pollToken });
  if (poll.body?.status !== 'complete') throw new Error(`login poll: ${JSON.stringify(poll.body)}`);
  return poll.body.sessionToken as string;
}

export function hostInfo(hostname: string, over: Partial<HostInfo> = {}): HostInfo {
  return {
    hostname,
    os: 'linux',
    osVersion: '12',
    clientVersion: '0.1.0',
    posture: { runningProcesses: [], localNetworks: [] },
    advertisedRoutes: [],
    advertiseExitNode: false,
    ...over,
  };
}

export interface RegisteredDevice {
  readonly deviceId: string;
  readonly credential: string;
  readonly nodeKey: string;
  readonly body: any;
}

export async function registerDevice(
  base: string,
  auth: { type: 'session'; token: string } | { type: 'preauth'; key: string },
  hostname: string,
): Promise<RegisteredDevice> {
  const nodeKey = keyToBase64(generateKeyPair().publicKey);
  const r = await postJson(`${base}/v1/register`, { nodeKey, hostInfo: hostInfo(hostname), auth });
  if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
  return { deviceId: r.body.deviceId, credential: r.body.nodeCredential, nodeKey, body: r.body };
}

/** A map-stream client that keeps its netmap up to date by applying deltas. */
export class MapClient {
  netmap: Netmap | null = null;
  seq = 0;
  resumeToken = '';
  readonly messages: MapServerMessage[] = [];
  readonly ws: WebSocket;
  private waiters: Array<() => void> = [];
  closeCode: number | null = null;

  constructor(
    base: string,
    credential: string,
    readonly nodeKey: string,
    resume?: { token: string; seq: number; netmap: Netmap },
  ) {
    this.ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/map`, {
      headers: { authorization: `Bearer ${credential}` },
    });
    if (resume) {
      this.netmap = resume.netmap;
      this.seq = resume.seq;
    }
    this.ws.on('open', () => {
      this.ws.send(
        JSON.stringify({
          type: 'hello',
          version: 1,
          nodeKey,
          discoKey: keyToBase64(generateKeyPair().publicKey),
          ...(resume ? { resume: { token: resume.token, seq: resume.seq } } : {}),
        }),
      );
    });
    this.ws.on('message', (data) => {
      const msg = MapServerMessage.parse(JSON.parse(data.toString()));
      this.messages.push(msg);
      if (msg.type === 'full') {
        this.netmap = msg.netmap;
        this.seq = msg.seq;
        this.resumeToken = msg.resumeToken;
      } else if (msg.type === 'delta' && this.netmap) {
        const r = applyNetmapPatch(this.netmap, msg.patch);
        if (r.ok) this.netmap = r.value;
        this.seq = msg.seq;
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on('error', () => undefined);
  }

  /** Waits until `pred` holds for this client's state (checked after every message). */
  async until(pred: (c: MapClient) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for map state');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'src/control/cli.ts');
/** A CLI run that takes longer is hung (a handle left open), not slow. */
const CLI_TIMEOUT_MS = 60_000;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real trellis-control CLI, spawned with tsx as `npx tsx src/control/cli.ts` runs it. */
export function runCli(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; input?: string },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: ROOT,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `trellis-control ${args.join(' ')} did not exit within ${CLI_TIMEOUT_MS} ms\n${stderr}`,
        ),
      );
    }, CLI_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
