import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installErrorHandler } from '../http/errors.js';
import { defaultConsoleDir, registerConsoleAssets } from './assets.js';

describe('console assets', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-console-assets-'));
    app = Fastify();
    installErrorHandler(app);
    registerConsoleAssets(app, dir);
  });
  afterEach(async () => {
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function build(): void {
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><div id="root"></div>');
    fs.writeFileSync(path.join(dir, 'assets', 'index-Ab12.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, 'assets', 'index-Cd34.css'), 'body{}');
    fs.writeFileSync(path.join(dir, 'assets', 'notes.txt'), 'not served: unknown type');
    fs.writeFileSync(path.join(dir, 'secret.js'), 'outside assets/');
  }

  it('serves the app for /admin and its pages, with a CSP and no framing', async () => {
    build();
    for (const url of ['/admin', '/admin/devices', '/admin/audit']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('<div id="root">');
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['referrer-policy']).toBe('no-referrer');
      expect(r.headers['cache-control']).toBe('no-store');
    }
    const slash = await app.inject({ method: 'GET', url: '/admin/' });
    expect(slash.statusCode).toBe(308);
    expect(slash.headers.location).toBe('/admin');
  });

  it('serves built assets with their type and long caching, and nothing else', async () => {
    build();
    const js = await app.inject({ method: 'GET', url: '/admin/assets/index-Ab12.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    expect(js.body).toBe('console.log(1)');
    const css = await app.inject({ method: 'GET', url: '/admin/assets/index-Cd34.css' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    for (const url of [
      '/admin/assets/notes.txt',
      '/admin/assets/missing.js',
      '/admin/assets/..%2fsecret.js',
      '/admin/assets/%2e%2e%2fsecret.js',
      '/admin/assets/.hidden.js',
    ]) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
    }
  });

  it('answers 404 for paths that are not console pages', async () => {
    build();
    for (const url of ['/admin/Devices', '/admin/..%2f..%2fetc', '/admin/x.html']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(404);
    }
  });

  it('says how to build the console when there is no build, and picks one up later', async () => {
    const r = await app.inject({ method: 'GET', url: '/admin' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('npm run build');
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    build();
    expect((await app.inject({ method: 'GET', url: '/admin' })).statusCode).toBe(200);
  });

  it('finds dist/console at the package root from the source tree', () => {
    const root = path.resolve(import.meta.dirname, '..', '..', '..');
    expect(defaultConsoleDir()).toBe(path.join(root, 'dist', 'console'));
    expect(fs.existsSync(path.join(root, 'package.json'))).toBe(true);
  });
});
