// `npm start`: runs Trellis on this machine with the embedded defaults — the built-in control
// plane on SQLite (loopback, plain HTTP), the trellisd helper (root only: it creates the WireGuard
// interface) and the desktop app (Electron when its binary is installed, else the same UI through
// the web bridge). State lives in ./.trellis.
// Ctrl-C stops everything; the helper removes its interface and routes on the way out.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectronBinary } from './electron-binary.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.join(root, '.trellis');
const controlPort = process.env.TRELLIS_LISTEN_PORT ?? '8080';
const controlUrl = `http://127.0.0.1:${controlPort}`;
const socket = path.join(data, 'trellisd.sock');

console.log('trellis: building…');
const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
fs.mkdirSync(data, { recursive: true, mode: 0o700 });

const children = [];
function run(name, args, env = {}, command = process.execPath) {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`trellis: ${name} exited (${signal ?? code}); stopping`);
    stop();
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(0), 12_000).unref();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

run('trellis-control', ['dist/control/cli.js', 'serve'], {
  TRELLIS_DATA_DIR: path.join(data, 'control'),
  TRELLIS_INSECURE_HTTP: '1',
  TRELLIS_LISTEN_HOST: '127.0.0.1',
  TRELLIS_LISTEN_PORT: controlPort,
});

const isRoot = process.getuid?.() === 0;
if (isRoot) {
  run('trellisd', [
    'dist/helper/trellisd.js',
    '--state-dir',
    path.join(data, 'helper'),
    '--socket',
    socket,
    '--control-url',
    controlUrl,
    '--tun-name',
    'trellis0',
  ]);
} else {
  console.log(
    'trellis: not root — starting the control plane only (trellisd needs root to create its WireGuard interface)',
  );
}

// The desktop UI: Electron when its binary is installed and there is a display; otherwise the
// same renderer through the web bridge, whose URL (with its secret token) is printed below.
if (isRoot) {
  const electron = findElectronBinary();
  const display = Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (electron.found && display) {
    console.log('trellis: desktop app (Electron)');
    // Electron refuses to run as root without --no-sandbox; the app itself never needs root.
    run(
      'desktop app',
      ['--no-sandbox', 'dist/main/main.cjs'],
      { TRELLIS_SOCKET: socket },
      electron.path,
    );
  } else {
    console.log(
      `trellis: ${electron.found ? 'no display for Electron' : `Electron not available: ${electron.reason}`}`,
    );
    console.log('trellis: desktop UI (web bridge) — open the URL it prints:');
    run('desktop UI', ['--import', 'tsx', 'src/main/bridge/serve.ts', '--socket', socket]);
  }
}

console.log(`
trellis: control plane on ${controlUrl} (first run prints the owner's password above)
${
  isRoot
    ? `trellis: helper socket ${socket}
  sign this machine in:   TRELLIS_SOCKET=${socket} node dist/helper/trellis.js up
  see the mesh:           TRELLIS_SOCKET=${socket} node dist/helper/trellis.js status`
    : ''
}
  admin console:          ${controlUrl}/admin (sign in as the owner)
  administer:             TRELLIS_DATA_DIR=${path.join(data, 'control')} node dist/control/cli.js users list
Ctrl-C stops everything.
`);
