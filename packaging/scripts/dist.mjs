// Builds the installers for one platform: `npm run dist:linux | dist:win | dist:mac`.
//
// electron-builder packs the Electron binary into every installer, so without it there is
// nothing to build: the script looks for it first and stops with a message saying so (the
// build machines here install with ELECTRON_SKIP_BINARY_DOWNLOAD=1). With it, it builds the
// app and the staged helper (npm run build), for Windows also the service host
// (npm run build:win-service), and runs electron-builder.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PLATFORMS = { linux: '--linux', win: '--win', mac: '--mac' };

/**
 * Where the Electron binary is, or why it is not there. `electron`'s index.js throws when its
 * path.txt is missing (the binary was never downloaded).
 */
export function findElectronBinary(root = ROOT) {
  const require = createRequire(path.join(root, 'package.json'));
  let pkgDir;
  try {
    pkgDir = path.dirname(require.resolve('electron/package.json'));
  } catch {
    return { ok: false, reason: 'the electron package is not installed (run npm ci)' };
  }
  const pathFile = path.join(pkgDir, 'path.txt');
  if (!existsSync(pathFile)) {
    return {
      ok: false,
      reason: `the Electron binary was never downloaded (${path.relative(root, pathFile)} is missing; npm ci ran with ELECTRON_SKIP_BINARY_DOWNLOAD=1 or without network)`,
    };
  }
  const binary = path.join(pkgDir, 'dist', readFileSync(pathFile, 'utf8').trim());
  if (!existsSync(binary)) return { ok: false, reason: `${binary} is missing` };
  return { ok: true, binary };
}

function run(command, args) {
  const r = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const platform = process.argv[2];
  const flag = PLATFORMS[platform];
  if (!flag) {
    process.stderr.write(
      `usage: dist.mjs ${Object.keys(PLATFORMS).join('|')} [electron-builder options]\n`,
    );
    process.exit(2);
  }
  const electron = findElectronBinary();
  if (!electron.ok) {
    process.stderr.write(
      `dist:${platform}: cannot build installers: ${electron.reason}.\n` +
        'electron-builder packs the Electron binary into every installer. On a machine that can ' +
        'download it, run `npm ci` without ELECTRON_SKIP_BINARY_DOWNLOAD (or `node node_modules/electron/install.js`) ' +
        'and try again. See docs/install.md.\n',
    );
    process.exit(1);
  }
  run('npm', ['run', 'build']);
  // The Windows service host (native/windows-service), which win.extraResources packs.
  if (platform === 'win') run('npm', ['run', 'build:win-service']);
  run('npx', ['electron-builder', flag, '--publish', 'never', ...process.argv.slice(3)]);
}
