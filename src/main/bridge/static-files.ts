/**
 * Serves the built renderer (dist/renderer) read-only: no directory listings, nothing outside
 * the root (percent-encoded "..", NUL bytes and symlinks out are refused), known types only.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
}

/** The file for a request path below the root ("" or "/" is index.html), or null. */
export async function readStatic(root: string, urlPath: string): Promise<StaticFile | null> {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  if (rel === '' || rel.endsWith('/')) rel += 'index.html';
  const type = TYPES[path.extname(rel).toLowerCase()];
  if (!type) return null;
  const rootReal = await fs.realpath(root).catch(() => null);
  if (!rootReal) return null;
  const full = path.resolve(rootReal, `.${path.posix.normalize(`/${rel}`)}`);
  const real = await fs.realpath(full).catch(() => null);
  if (!real || !real.startsWith(rootReal + path.sep)) return null;
  try {
    const st = await fs.stat(real);
    if (!st.isFile()) return null;
    return { body: await fs.readFile(real), type };
  } catch {
    return null;
  }
}
