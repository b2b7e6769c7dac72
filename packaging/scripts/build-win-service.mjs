// Builds trellis-service.exe, the Windows service host of the helper (native/windows-service),
// with mingw-w64: `npm run build:win-service` (npm run dist:win runs it). The result,
// dist/windows-service/trellis-service.exe, goes into <app>/resources/helper/service/
// (electron-builder.yml, win.extraResources).
//
// The host is built freestanding (no C runtime, entry point `entry`), so it imports from
// kernel32 and advapi32 only. The compiler is x86_64-w64-mingw32-gcc (Debian:
// gcc-mingw-w64-x86-64; on Windows, MSYS2's mingw-w64-x86_64-gcc), or TRELLIS_WIN_CC.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const WIN_SERVICE_SOURCE = path.join(ROOT, 'native/windows-service/trellis-service.c');
export const WIN_SERVICE_EXE = path.join(ROOT, 'dist/windows-service/trellis-service.exe');
export const DEFAULT_WIN_CC = 'x86_64-w64-mingw32-gcc';

/** The compiler command line for `source` → `out`. */
export function winServiceCompileArgs(source = WIN_SERVICE_SOURCE, out = WIN_SERVICE_EXE) {
  return [
    '-std=c11',
    '-Os',
    '-s',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-ffreestanding',
    '-fno-builtin',
    '-nostdlib',
    '-nostartfiles',
    '-Wl,--entry=entry',
    '-Wl,--subsystem,console',
    // The PE timestamp stays 0, so the same source gives the same bytes.
    '-Wl,--no-insert-timestamp',
    '-o',
    out,
    source,
    '-lkernel32',
    '-ladvapi32',
    // __chkstk_ms (stack probes): static, no import.
    '-lgcc',
  ];
}

/**
 * Compiles the service host. Returns {ok: true, out} or {ok: false, error} with the compiler's
 * output, or a message saying what to install when the compiler is missing.
 */
export function buildWinService({
  cc = process.env.TRELLIS_WIN_CC || DEFAULT_WIN_CC,
  source = WIN_SERVICE_SOURCE,
  out = WIN_SERVICE_EXE,
} = {}) {
  mkdirSync(path.dirname(out), { recursive: true });
  const r = spawnSync(cc, winServiceCompileArgs(source, out), { encoding: 'utf8' });
  if (r.error && r.error.code === 'ENOENT') {
    return {
      ok: false,
      error: `${cc} is missing: install mingw-w64 (Debian: apt-get install gcc-mingw-w64-x86-64; Windows: MSYS2's mingw-w64-x86_64-gcc) or set TRELLIS_WIN_CC`,
    };
  }
  if (r.error) return { ok: false, error: `${cc}: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, error: `${cc} failed:\n${r.stdout}${r.stderr}` };
  return { ok: true, out };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const r = buildWinService();
  if (!r.ok) {
    process.stderr.write(`build:win-service: ${r.error}\n`);
    process.exit(1);
  }
  process.stdout.write(`built ${path.relative(ROOT, r.out)}\n`);
}
