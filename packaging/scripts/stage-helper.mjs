// Stages the helper for the installers: dist/packaged-helper/ becomes <app>/resources/helper/
// (electron-builder.yml, extraResources). It holds
//   package.json          {"type": "module"}, so Node reads dist/**/*.js as ES modules
//   dist/helper, dist/shared   the compiled helper (npm run build:node), without source maps
//   node_modules/         the production packages the helper imports, with their dependencies
//   bin/                  launchers: trellisd and trellis (sh), trellisd.cmd and trellis.cmd
//   service/              the systemd unit, the launchd plist, the Windows service scripts
//
// Which packages: every bare import in the compiled helper, followed through each package's
// dependencies and installed optionalDependencies, resolved as Node resolves them. So a
// dependency another part of the helper starts using is picked up without editing this file.
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const STAGE_DIR = path.join(ROOT, 'dist', 'packaged-helper');
const BUILTINS = new Set(builtinModules);

/** Package names a compiled ES module imports (static and dynamic, bare specifiers only). */
export function bareImports(source) {
  const names = new Set();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"]([^'"./][^'"]*)['"]/g;
  for (const m of source.matchAll(re)) {
    const spec = m[1];
    if (spec.startsWith('node:')) continue;
    const parts = spec.split('/');
    const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    if (!BUILTINS.has(name)) names.add(name);
  }
  return names;
}

function* jsFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* jsFiles(p);
    else if (e.name.endsWith('.js')) yield p;
  }
}

/** Node's lookup: <dir>/node_modules/<name>, then each parent's, up to the root. */
function findPackage(name, fromDir) {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/**
 * The package directories (top-level under ROOT/node_modules) the helper needs. Packages nested
 * in another package's own node_modules travel with that package's directory.
 */
export function helperPackages(distDirs) {
  const roots = new Set();
  for (const d of distDirs) {
    for (const f of jsFiles(d)) for (const n of bareImports(readFileSync(f, 'utf8'))) roots.add(n);
  }
  const found = new Map();
  const queue = [...roots].map((name) => ({ name, from: ROOT, optional: false }));
  while (queue.length > 0) {
    const { name, from, optional } = queue.shift();
    const dir = findPackage(name, from);
    if (dir === null) {
      if (optional) continue;
      throw new Error(`the helper needs ${name}, which is not installed (run npm ci)`);
    }
    if (found.has(dir)) continue;
    found.set(dir, name);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {}))
      queue.push({ name: dep, from: dir, optional: false });
    for (const dep of Object.keys(pkg.optionalDependencies ?? {}))
      queue.push({ name: dep, from: dir, optional: true });
  }
  const top = path.join(ROOT, 'node_modules');
  return [...found.entries()]
    .filter(([dir]) => path.dirname(dir) === top || path.dirname(path.dirname(dir)) === top)
    .map(([dir, name]) => ({ dir, name }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

const noMaps = (src) => !src.endsWith('.map');

/** Builds STAGE_DIR from dist/ (which must exist: npm run build:node). Returns the package names. */
export function stageHelper(stageDir = STAGE_DIR) {
  const dist = ['helper', 'shared'].map((d) => path.join(ROOT, 'dist', d));
  for (const d of dist) {
    if (!existsSync(d))
      throw new Error(`${path.relative(ROOT, d)} is missing: run npm run build:node first`);
  }
  rmSync(stageDir, { recursive: true, force: true });
  mkdirSync(stageDir, { recursive: true });
  const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  writeFileSync(
    path.join(stageDir, 'package.json'),
    `${JSON.stringify({ name: 'trellis-helper', version: root.version, private: true, type: 'module', license: root.license }, null, 2)}\n`,
  );
  for (const d of dist)
    cpSync(d, path.join(stageDir, 'dist', path.basename(d)), { recursive: true, filter: noMaps });
  const packages = helperPackages(dist);
  for (const p of packages) {
    cpSync(p.dir, path.join(stageDir, 'node_modules', p.name), {
      recursive: true,
      dereference: true,
    });
  }
  const bin = path.join(stageDir, 'bin');
  mkdirSync(bin);
  for (const name of ['trellisd', 'trellis']) {
    cpSync(path.join(ROOT, 'packaging/launcher/trellis-helper.sh'), path.join(bin, name));
    chmodSync(path.join(bin, name), 0o755);
    cpSync(path.join(ROOT, 'packaging/launcher/trellis-helper.cmd'), path.join(bin, `${name}.cmd`));
  }
  const service = path.join(stageDir, 'service');
  mkdirSync(service);
  for (const f of [
    'linux/trellisd.service',
    'macos/com.trellis.trellisd.plist',
    'macos/install-service.sh',
    'macos/uninstall-service.sh',
    'windows/install-service.ps1',
    'windows/uninstall-service.ps1',
  ]) {
    cpSync(path.join(ROOT, 'packaging', f), path.join(service, path.basename(f)));
  }
  for (const f of readdirSync(service)) {
    if (f.endsWith('.sh')) chmodSync(path.join(service, f), 0o755);
  }
  return packages.map((p) => p.name);
}

/** Total size of a directory tree in bytes. */
export function treeSize(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? treeSize(p) : statSync(p).size;
  }
  return n;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const names = stageHelper();
  const mib = (treeSize(STAGE_DIR) / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `staged the helper in ${path.relative(ROOT, STAGE_DIR)} (${mib} MiB): ${names.join(', ')}\n`,
  );
}
