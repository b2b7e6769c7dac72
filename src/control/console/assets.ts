/**
 * Serves the built console app (src/console, built by Vite into dist/console): the same
 * index.html for /admin and each of its pages, and the content-hashed files under
 * /admin/assets/. Files are read into memory once; serving never touches a path a request
 * names, only names from that listing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import * as z from 'zod';
import { CONSOLE_PATH } from '../../shared/schema/control/console.js';
import { errorBody } from '../http/errors.js';
import { assetHeaders, documentHeaders } from './headers.js';

/** Overrides where the built console is read from (tests build it into a temp dir). */
export const CONSOLE_DIR_ENV = 'TRELLIS_CONSOLE_DIR';

/**
 * `<repo>/dist/console`: this module is `src/control/console/assets.ts` under tsx and
 * `dist/control/console/assets.js` once built, three levels below the package root either way.
 */
export function defaultConsoleDir(): string {
  return path.resolve(import.meta.dirname, '..', '..', '..', 'dist', 'console');
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Vite's output names: `index-BnC7x9.js`. Nothing with a slash or a leading dot. */
const AssetName = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/);
/** The app's page names (`/admin/devices`); anything else under /admin is not ours. */
const PageName = z.string().regex(/^[a-z][a-z-]{0,31}$/);

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

export interface ConsoleBuild {
  readonly index: Buffer;
  readonly assets: ReadonlyMap<string, Asset>;
}

/** Reads a build; null when there is none (index.html missing). */
export function loadConsoleBuild(dir: string): ConsoleBuild | null {
  let index: Buffer;
  try {
    index = fs.readFileSync(path.join(dir, 'index.html'));
  } catch {
    return null;
  }
  const assets = new Map<string, Asset>();
  const assetDir = path.join(dir, 'assets');
  const names = fs.existsSync(assetDir) ? fs.readdirSync(assetDir, { withFileTypes: true }) : [];
  for (const f of names) {
    const type = CONTENT_TYPES[path.extname(f.name)];
    if (!f.isFile() || !type || !AssetName.safeParse(f.name).success) continue;
    assets.set(f.name, { type, body: fs.readFileSync(path.join(assetDir, f.name)) });
  }
  return { index, assets };
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Admin console not built · Trellis</title></head><body><main><h1>The admin console is not built</h1><p>This trellis-control has no console app to serve. Build it with <code>npm run build</code> (or <code>npm run build:console</code>) and restart trellis-control.</p></main></body></html>`;

export function registerConsoleAssets(
  app: FastifyInstance,
  dir = process.env[CONSOLE_DIR_ENV] || defaultConsoleDir(),
): void {
  // Loaded on first use, so a build made after the server started is picked up once.
  let build: ConsoleBuild | null = null;
  const current = (): ConsoleBuild | null => (build ??= loadConsoleBuild(dir));

  const page = (reply: FastifyReply): FastifyReply => {
    const b = current();
    documentHeaders(reply).header('content-type', 'text/html; charset=utf-8');
    return b ? reply.status(200).send(b.index) : reply.status(503).send(NOT_BUILT);
  };
  const notFound = (reply: FastifyReply) =>
    reply.status(404).send(errorBody('not_found', 'no such console page'));

  app.get(CONSOLE_PATH, (_req, reply) => page(reply));
  app.get(`${CONSOLE_PATH}/`, (_req, reply) =>
    documentHeaders(reply).status(308).header('location', CONSOLE_PATH).send(),
  );
  app.get<{ Params: { page: string } }>(`${CONSOLE_PATH}/:page`, (req, reply) =>
    PageName.safeParse(req.params.page).success ? page(reply) : notFound(reply),
  );
  app.get<{ Params: { file: string } }>(`${CONSOLE_PATH}/assets/:file`, (req, reply) => {
    const asset = current()?.assets.get(req.params.file);
    if (!asset) return notFound(reply);
    return assetHeaders(reply).header('content-type', asset.type).send(asset.body);
  });
}
