/**
 * Test fixtures for the console's server side: a real trellis-control on loopback (SQLite in a
 * temp dir, no STUN or relay) driven through fastify's inject, with a settable clock.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startControl, type ControlServer } from '../app.js';
import { hashPassword } from '../auth/passwords.js';
import { parseConfig, type ControlConfig } from '../config.js';
import type { Role } from '../store/users.js';
import { SESSION_COOKIE } from './session-cookie.js';

export interface ConsoleTestControl {
  readonly server: ControlServer;
  /** The server's own origin (what a browser on the console sends as Origin). */
  readonly origin: string;
  readonly owner: { id: string; email: string; password: string };
  /** Moves the server's clock. */
  advance(ms: number): void;
  /** A user of the network with `role` (and a password), created directly in the store. */
  addUser(role: Role, email: string, password?: string): Promise<string>;
  /** A user session token for `userId`, as a sign-in would mint it. */
  session(userId: string, ttlMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startConsoleTestControl(
  over: Record<string, unknown> = {},
): Promise<ConsoleTestControl> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-console-'));
  let t = Date.now();
  const cfg = parseConfig({
    dataDir,
    insecureHttp: true,
    listen: { host: '127.0.0.1', port: 0 },
    stun: { enabled: false },
    relay: { enabled: false },
    database: { driver: 'sqlite' },
    network: { name: 'Console test', domain: 'console.trellis' },
    logLevel: 'silent',
    ...over,
  });
  if (!cfg.ok) throw new Error(cfg.error.message);
  const server = await startControl(cfg.value as ControlConfig, {
    logger: pino({ level: 'silent' }),
    now: () => t,
  });
  const boot = server.bootstrap.owner;
  if (!boot) throw new Error('expected a first-run owner');
  const ownerUser = await server.store.users.findByEmail(server.bootstrap.network.id, boot.email);
  if (!ownerUser) throw new Error('owner not found');
  return {
    server,
    origin: new URL(server.url).origin,
    owner: { id: ownerUser.id, email: boot.email, password: boot.password },
    advance: (ms) => {
      t += ms;
    },
    addUser: async (role, email, password = 'correct horse battery staple') => {
      const r = await server.store.users.createLocal({
        networkId: server.bootstrap.network.id,
        email,
        role,
        passwordHash: await hashPassword(password),
      });
      if (!r.ok) throw new Error(r.error);
      return r.value.id;
    },
    session: async (userId, ttlMs = 3_600_000) =>
      (await server.store.userSessions.create({ userId, ttlMs })).token,
    stop: async () => {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A Cookie header holding the console session. */
export const consoleCookie = (token: string): string => `${SESSION_COOKIE}=${token}`;
