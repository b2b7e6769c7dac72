/**
 * Packaging checks that run here, where there is no Electron binary, no Windows and no macOS:
 *
 * - electron-builder.yml passes electron-builder's own configuration validation, and the paths,
 *   targets and protocol the project relies on are there (after `npm run build`).
 * - electron-builder finds every maintainer script, installer include and pkg script directory
 *   it is configured with, resolved by its own code (project dir or buildResources).
 * - The systemd unit passes `systemd-analyze verify`; the maintainer scripts and launchers pass
 *   `sh -n`, `bash -n` and shellcheck after electron-builder's template substitution; the launchd
 *   plist is well-formed XML of the expected shape; the service command lines (systemd, launchd,
 *   the Windows task) parse as trellisd flags for their platform, with its default endpoint.
 * - The deb and rpm maintainer scripts run through install, upgrade and removal in a throwaway
 *   copy of this machine's file system (an overlay in a private mount namespace, chrooted), with
 *   systemctl, the group tools and the desktop-database tools replaced by stubs that record
 *   their arguments: the host's files, users, groups and services are never touched.
 * - The helper starts as the packaged service would start it: the unit's exact ExecStart (paths
 *   mapped into a temp dir) run in a network namespace of its own, answering `trellis version`
 *   and `trellis status` on its socket. The launcher runs it under Node, saying that the
 *   Electron binary is missing.
 * - wireguard-nt: the struct layout and the marshalled bytes match, byte for byte, a C program
 *   compiled here with gcc from the same definitions, and koffi's layout of the FFI types; the
 *   koffi bindings make real native calls into a stand-in for wireguard.dll built here.
 * - The Windows service host (native/windows-service) compiles with mingw-w64 into an x86-64
 *   PE that imports from kernel32 and advapi32 only; the Windows scripts register it with
 *   sc.exe as the packaging promises; and trellisd stops cleanly, restoring the namespace, when
 *   its stdin closes, which is how the host stops it (the host itself never ran on Windows).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import koffi, { type LibraryHandle } from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrellisdFlags } from '../src/helper/daemon/flags.js';
import { defaultLocalApiEndpoint, Status } from '../src/shared/schema/localapi.js';
import { generateKeyPair, keyToBase64 } from '../src/shared/keys.js';
import {
  decodeNtConfig,
  encodeNtConfig,
  NT_LAYOUT,
  NtInterfaceFlag,
  NtPeerFlag,
  ZERO_KEY,
  type NtInterface,
} from '../src/helper/wg/wireguard-nt-abi.js';
import {
  adapterGuid,
  bindWireGuardNt,
  ntKoffiTypes,
  WireGuardNtError,
} from '../src/helper/wg/wireguard-nt-ffi.js';
import { WireGuardNtBackend } from '../src/helper/wg/wireguard-nt.js';
import { APP_ICON_SIZES, appIconPng } from '../packaging/scripts/app-icon.mjs';
import { findElectronBinary } from '../packaging/scripts/dist.mjs';
import { buildWinService } from '../packaging/scripts/build-win-service.mjs';
import { startTestControl, type TestControl } from './harness/control.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const require = createRequire(path.join(ROOT, 'package.json'));
const STAGE = path.join(ROOT, 'dist/packaged-helper');
const run = crypto.randomBytes(3).toString('hex');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-packaging-'));

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function requireTool(tool: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    throw new Error(
      `${tool} is missing: install the Debian package ${pkg} (scripts/setup-system.sh does)`,
    );
  }
}

function requireBuild(): void {
  if (!fs.existsSync(path.join(STAGE, 'bin/trellisd'))) {
    throw new Error('dist/packaged-helper is missing: run `npm run build` first (npm test does)');
  }
}

// ---------------------------------------------------------------------------------------------

interface BuilderConfig {
  appId: string;
  productName: string;
  files: string[];
  extraMetadata: { main: string };
  extraResources: { from: string; to: string }[];
  protocols: { name: string; schemes: string[] }[];
  linux: { target: string[]; category: string; icon: string; executableName: string };
  deb: { afterInstall: string; afterRemove: string; fpm: string[]; depends: string[] };
  rpm: { afterInstall: string; afterRemove: string; fpm: string[] };
  win: { target: string[]; icon: string };
  nsis: { include: string; perMachine: boolean };
  mac: { target: string[]; icon: string };
  pkg: { scripts: string };
  directories: { buildResources: string };
}

/** electron-builder's own loader and validator (app-builder-lib). */
const builderConfigModule = require('app-builder-lib/out/util/config/config.js') as {
  getConfig(projectDir: string, configPath: string | null, fromOptions: unknown): Promise<unknown>;
  validateConfiguration(
    config: unknown,
    debugLogger: { isEnabled: boolean; add(): void },
  ): Promise<void>;
};
const quietLogger = { isEnabled: false, add: () => undefined };

/** electron-builder's deb/rpm target: createScripts resolves and renders the maintainer scripts. */
const FpmTarget = (
  require('app-builder-lib/out/targets/FpmTarget.js') as {
    default: { prototype: { createScripts(this: unknown): Promise<FpmScripts> } };
  }
).default;
interface FpmScripts {
  afterInstall: string;
  afterRemove: string;
  appArmor: string;
}
/** How the pkg target finds `pkg.scripts`, and how every other target finds a named resource. */
const { resolveScriptsDir } = require('app-builder-lib/out/targets/pkg.js') as {
  resolveScriptsDir(buildResourcesDir: string, scripts: string | null | undefined): string | null;
};
const { PlatformPackager } = require('app-builder-lib/out/platformPackager.js') as {
  PlatformPackager: { prototype: { getResource(this: unknown, custom: string): Promise<string> } };
};

/**
 * The deb or rpm maintainer scripts as electron-builder renders them into a package: its own
 * FpmTarget.createScripts, on the packager fields it reads. Scripts are found with
 * path.resolve(projectDir, value); a missing one, or an unknown `${macro}`, rejects.
 */
async function renderMaintainerScripts(
  config: BuilderConfig,
  target: 'deb' | 'rpm',
  override: Partial<BuilderConfig['deb']> = {},
): Promise<FpmScripts> {
  const dir = fs.mkdtempSync(path.join(tmp, `${target}-scripts-`));
  let n = 0;
  const packager = {
    executableName: config.linux.executableName,
    appInfo: { sanitizedProductName: config.productName, productFilename: config.productName },
    platformSpecificBuildOptions: config.linux,
    projectDir: ROOT,
    info: {
      tempDirManager: {
        getTempFile: async ({ suffix }: { suffix: string }) => path.join(dir, `${n++}-${suffix}`),
      },
    },
  };
  // FpmTarget's options: the linux section with the target's own on top.
  const options = { ...config.linux, ...config[target], ...override };
  return FpmTarget.prototype.createScripts.call({ packager, options });
}

/** `--before-remove=FILE` style fpm arguments: fpm opens FILE relative to its working directory. */
function fpmFileArgs(args: readonly string[]): string[] {
  return args.flatMap((a) => /^--(?:before|after)-[a-z]+=(.+)$/.exec(a)?.[1] ?? []);
}

let loadedConfig: Promise<BuilderConfig> | null = null;
/** electron-builder.yml as electron-builder loads it (once). */
function builderConfig(): Promise<BuilderConfig> {
  loadedConfig ??= builderConfigModule.getConfig(ROOT, null, null) as Promise<BuilderConfig>;
  return loadedConfig;
}

describe('electron-builder configuration', () => {
  let config: BuilderConfig;
  beforeAll(async () => {
    config = await builderConfig();
  });

  it("passes electron-builder's schema validation, which rejects a broken copy", async () => {
    await builderConfigModule.validateConfiguration(config, quietLogger);
    await expect(
      builderConfigModule.validateConfiguration(
        { ...config, linux: { ...config.linux, target: 'deb', notAnOption: true } },
        quietLogger,
      ),
    ).rejects.toThrow(/does not match the API schema[\s\S]*configuration\.linux/);
  });

  it('builds the targets, the protocol and the categories the issue asks for', () => {
    expect(config.appId).toBe('com.trellis.desktop');
    expect(config.productName).toBe('Trellis');
    expect(config.linux.target).toEqual(['deb', 'rpm', 'AppImage']);
    expect(config.linux.category).toBe('Network');
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(expect.arrayContaining(['dmg', 'pkg']));
    expect(config.protocols.flatMap((p) => p.schemes)).toEqual(['trellis']);
  });

  it('names files that exist after the build, and the helper staged with its launchers', () => {
    requireBuild();
    expect(fs.existsSync(path.join(ROOT, config.extraMetadata.main))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'dist/renderer/index.html'))).toBe(true);
    const helper = config.extraResources.find((r) => r.to === 'helper');
    expect(helper?.from).toBe('dist/packaged-helper');
    for (const f of [
      'package.json',
      'dist/helper/trellisd.js',
      'dist/helper/trellis.js',
      'dist/shared/version.js',
      'bin/trellisd',
      'bin/trellis',
      'bin/trellisd.cmd',
      'service/trellisd.service',
      'service/com.trellis.trellisd.plist',
      'service/install-service.ps1',
      'node_modules/pino/package.json',
      'node_modules/zod/package.json',
      'node_modules/koffi/package.json',
    ]) {
      expect(fs.existsSync(path.join(STAGE, f)), f).toBe(true);
    }
    expect(fs.statSync(path.join(STAGE, 'bin/trellisd')).mode & 0o111).toBeTruthy();
    expect(JSON.parse(fs.readFileSync(path.join(STAGE, 'package.json'), 'utf8')).type).toBe(
      'module',
    );
    // Nothing for development only.
    expect(fs.existsSync(path.join(STAGE, 'node_modules/vitest'))).toBe(false);
    expect(fs.existsSync(path.join(STAGE, 'node_modules/typescript'))).toBe(false);
    for (const p of [config.win.icon, config.mac.icon]) {
      expect(fs.existsSync(path.join(ROOT, p)), p).toBe(true);
    }
  });

  it("finds every maintainer script, include and pkg script as electron-builder's code resolves them", async () => {
    // deb/rpm afterInstall and afterRemove: relative to the project dir (FpmTarget.createScripts).
    for (const target of ['deb', 'rpm'] as const) {
      const scripts = await renderMaintainerScripts(config, target);
      expect(fs.readFileSync(scripts.afterInstall, 'utf8')).toContain(
        "app='/opt/Trellis'\nexe='trellis-desktop'",
      );
      expect(fs.readFileSync(scripts.afterRemove, 'utf8')).toContain("exe='trellis-desktop'");
      // fpm's own arguments go to fpm verbatim, and fpm opens the files relative to its working
      // directory: dist.mjs runs electron-builder (and so fpm) in the project root.
      const fpmFiles = fpmFileArgs(config[target].fpm);
      expect(fpmFiles).toEqual(['packaging/linux/before-remove.sh']);
      for (const f of fpmFiles) expect(fs.statSync(path.join(ROOT, f)).isFile(), f).toBe(true);
    }
    // The same code fails on a path that does not exist, so the check above can fail.
    await expect(
      renderMaintainerScripts(config, 'deb', { afterInstall: 'packaging/linux/no-such.sh' }),
    ).rejects.toThrow(/ENOENT/);

    // pkg.scripts: relative to buildResources (build/), hence the `../`.
    const buildResources = path.resolve(ROOT, config.directories.buildResources);
    const pkgScripts = resolveScriptsDir(buildResources, config.pkg.scripts);
    expect(pkgScripts).toBe(path.join(ROOT, 'packaging/macos/pkg-scripts'));
    const postinstall = path.join(pkgScripts ?? '', 'postinstall');
    expect(fs.statSync(postinstall).mode & 0o111, 'pkgbuild runs it: executable').toBeTruthy();

    // nsis.include (PlatformPackager.getResource): buildResources first, then the project dir.
    const packager = {
      info: { buildResourcesDir: buildResources },
      resourceList: fs.promises.readdir(buildResources),
      projectDir: ROOT,
    };
    const getResource = (p: string) => PlatformPackager.prototype.getResource.call(packager, p);
    expect(await getResource(config.nsis.include)).toBe(
      path.join(ROOT, 'packaging/windows/installer.nsh'),
    );
    await expect(getResource('packaging/windows/no-such.nsh')).rejects.toThrow(/cannot find/);
  });

  it('ships the icon set it names, exactly as packaging/scripts/app-icon.mjs draws it', () => {
    for (const size of APP_ICON_SIZES) {
      const file = path.join(ROOT, config.linux.icon, `${size}x${size}.png`);
      expect(
        fs.readFileSync(file).equals(appIconPng(size)),
        `${file} is stale: npm run icons`,
      ).toBe(true);
    }
  });

  it('dist:linux stops with a clear message when the Electron binary is absent', () => {
    const found = findElectronBinary(ROOT);
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'packaging/scripts/dist.mjs'), 'linux'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PATH: '/nonexistent' }, // never reaches npm/electron-builder
      },
    );
    if (found.ok) {
      // A machine with the binary: the check passes and the build starts (npm is not on PATH here).
      expect(r.stderr).not.toContain('cannot build installers');
    } else {
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('cannot build installers');
      expect(r.stderr).toContain('Electron binary');
    }
  });
});

// ---------------------------------------------------------------------------------------------

const UNIT = path.join(ROOT, 'packaging/linux/trellisd.service');
const INSTALLED_HELPER = '/opt/Trellis/resources/helper';

function unitValue(key: string): string[] {
  return fs
    .readFileSync(UNIT, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

describe('service definitions', () => {
  it('the systemd unit passes systemd-analyze verify (ExecStart pointed at the staged launcher)', () => {
    requireTool('systemd-analyze', 'systemd');
    requireBuild();
    const unit = fs.readFileSync(UNIT, 'utf8');
    // verify needs ExecStart's binary to exist; the only change is where the helper lives.
    const copy = unit.replaceAll(INSTALLED_HELPER, STAGE);
    expect(copy.split('\n').filter((l, i) => l !== unit.split('\n')[i])).toEqual([
      `ExecStart=${STAGE}/bin/trellisd --state-dir /var/lib/trellis --socket /run/trellis/trellisd.sock --socket-group trellis`,
    ]);
    const dir = fs.mkdtempSync(path.join(tmp, 'unit-'));
    fs.writeFileSync(path.join(dir, 'trellisd.service'), copy);
    const r = spawnSync('systemd-analyze', ['verify', path.join(dir, 'trellisd.service')], {
      encoding: 'utf8',
    });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('the systemd unit restarts the helper and keeps it to the capabilities it needs', () => {
    expect(unitValue('Restart')).toEqual(['always']);
    expect(unitValue('ProtectSystem')).toEqual(['strict']);
    expect(unitValue('ProtectHome')).toEqual(['yes']);
    expect(unitValue('PrivateTmp')).toEqual(['yes']);
    expect(unitValue('NoNewPrivileges')).toEqual(['yes']);
    expect(unitValue('StateDirectory')).toEqual(['trellis']);
    expect(unitValue('RuntimeDirectory')).toEqual(['trellis']);
    expect(unitValue('CapabilityBoundingSet')[0]?.split(' ').sort()).toEqual([
      'CAP_CHOWN',
      'CAP_NET_ADMIN',
      'CAP_NET_BIND_SERVICE',
      'CAP_NET_RAW',
    ]);
    expect(unitValue('ReadWritePaths')[0]?.split(' ')).toEqual(
      expect.arrayContaining(['/var/lib/trellis', '/run/trellis']),
    );
  });

  it('the service command lines are valid trellisd flags for their platform, on its default endpoint', () => {
    const flagsFor = (argv: string[], platform: string) => {
      const r = parseTrellisdFlags(argv, platform);
      if (!r.ok || r.value === 'help')
        throw new Error(`${platform}: ${argv.join(' ')}: ${r.ok ? 'help' : r.error}`);
      return r.value;
    };
    const exec = unitValue('ExecStart')[0]?.split(' ') ?? [];
    expect(exec[0]).toBe(`${INSTALLED_HELPER}/bin/trellisd`);
    const linux = flagsFor(exec.slice(1), 'linux');
    expect(linux.stateDir).toBe('/var/lib/trellis');
    expect(linux.socket).toBe(defaultLocalApiEndpoint('linux'));
    // RuntimeDirectory=trellis is /run/trellis: the socket's directory.
    expect(path.dirname(linux.socket)).toBe(`/run/${unitValue('RuntimeDirectory')[0]}`);

    const plist = parsePlist(path.join(ROOT, 'packaging/macos/com.trellis.trellisd.plist'));
    const args = plist.ProgramArguments as string[];
    expect(args[0]).toBe('/Applications/Trellis.app/Contents/Resources/helper/bin/trellisd');
    expect(flagsFor(args.slice(1), 'darwin').socket).toBe(defaultLocalApiEndpoint('darwin'));
    // install-service.sh makes the socket's directory.
    expect(fs.readFileSync(path.join(ROOT, 'packaging/macos/install-service.sh'), 'utf8')).toMatch(
      new RegExp(`^mkdir -p .* ${path.dirname(defaultLocalApiEndpoint('darwin'))}$`, 'm'),
    );

    // The Windows service's arguments to trellisd, as install-service.ps1 builds them: no
    // --socket, so the default pipe.
    const ps1 = fs.readFileSync(path.join(ROOT, 'packaging/windows/install-service.ps1'), 'utf8');
    expect(ps1).toContain('$arguments = "--state-dir `"$StateDir`" --stop-on-stdin-close"');
    const win = flagsFor(
      ['--state-dir', 'C:\\ProgramData\\Trellis\\state', '--stop-on-stdin-close'],
      'win32',
    );
    expect(win.socket).toBe(defaultLocalApiEndpoint('win32'));
    expect(win.stopOnStdinClose).toBe(true);
  });

  it('the launchd plist is well-formed XML of a KeepAlive system daemon', () => {
    const plist = parsePlist(path.join(ROOT, 'packaging/macos/com.trellis.trellisd.plist'));
    expect(plist.Label).toBe('com.trellis.trellisd');
    expect(plist.RunAtLoad).toBe(true);
    expect(plist.KeepAlive).toBe(true);
    expect(typeof plist.ThrottleInterval).toBe('number');
    expect(() =>
      parsePlist(writeTmp('bad.plist', '<plist><dict><key>Label</key></plist>')),
    ).toThrow();
  });

  it('maintainer scripts and launchers pass sh -n, bash -n and shellcheck', async () => {
    requireTool('shellcheck', 'shellcheck');
    const rendered = await renderMaintainerScripts(await builderConfig(), 'deb');
    const scripts = [
      rendered.afterInstall,
      rendered.afterRemove,
      path.join(ROOT, 'packaging/linux/before-remove.sh'),
      path.join(ROOT, 'packaging/launcher/trellis-helper.sh'),
      path.join(ROOT, 'packaging/macos/install-service.sh'),
      path.join(ROOT, 'packaging/macos/uninstall-service.sh'),
      path.join(ROOT, 'packaging/macos/pkg-scripts/postinstall'),
    ];
    // before-remove goes to fpm unrendered: it must not contain a macro.
    expect(
      fs.readFileSync(path.join(ROOT, 'packaging/linux/before-remove.sh'), 'utf8'),
    ).not.toMatch(/\$\{[a-zA-Z]+\}/);
    for (const s of scripts) {
      for (const [shell, args] of [
        ['sh', ['-n', s]],
        ['bash', ['-n', s]],
        ['shellcheck', ['--shell=sh', '--severity=style', s]],
      ] as const) {
        const r = spawnSync(shell, [...args], { encoding: 'utf8' });
        expect(`${r.stdout}${r.stderr}`, `${shell} ${s}`).toBe('');
        expect(r.status, `${shell} ${s}`).toBe(0);
      }
    }
  });

  it('the NSIS include runs the staged Windows service scripts', () => {
    const nsh = fs.readFileSync(path.join(ROOT, 'packaging/windows/installer.nsh'), 'utf8');
    expect(nsh).toMatch(/!macro customInstall[\s\S]*install-service\.ps1[\s\S]*!macroend/);
    expect(nsh).toMatch(/!macro customUnInstall[\s\S]*uninstall-service\.ps1[\s\S]*!macroend/);
    for (const f of nsh.matchAll(/resources\\helper\\service\\\$\{SCRIPT\}/g))
      expect(f).toBeTruthy();
    for (const script of ['install-service.ps1', 'uninstall-service.ps1']) {
      expect(fs.existsSync(path.join(ROOT, 'packaging/windows', script))).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * Commands the maintainer scripts run that would change this machine or depend on it: stubs
 * that append `name args…` to $STUB_LOG. The group tools keep their state in $STUB_GROUPS, so a
 * later step sees the group an earlier one made. id: $SUDO_USER exists; unshare: unprivileged
 * user namespaces work (chrome-sandbox needs no setuid); ischroot: not a chroot, as on a real
 * install.
 */
const MAINTAINER_STUBS: Record<string, string> = {
  systemctl: '',
  usermod: '',
  id: '',
  unshare: '',
  apparmor_parser: '',
  'update-mime-database': '',
  'update-desktop-database': '',
  ischroot: 'exit 1',
  getent: '[ "$1" = group ] && grep -qx "$2" "$STUB_GROUPS"',
  groupadd: 'for g; do :; done\necho "$g" >>"$STUB_GROUPS"',
  groupdel:
    'grep -vx "$1" "$STUB_GROUPS" >"$STUB_GROUPS.new" || true\nmv "$STUB_GROUPS.new" "$STUB_GROUPS"',
};

/** What the steps leave behind, one line per path (symlink target, or mode and content hash). */
const WATCHED_PATHS = [
  '/usr/bin/trellis-desktop',
  '/usr/bin/trellis',
  '/usr/sbin/trellisd',
  '/usr/lib/systemd/system/trellisd.service',
  '/etc/apparmor.d/trellis-desktop',
  '/opt/Trellis/chrome-sandbox',
  '/var/lib/trellis',
];

type MaintainerStep = readonly [
  name: string,
  script: 'after-install' | 'after-remove' | 'before-remove',
  ...args: string[],
];

interface MaintainerRun {
  /** Stub calls per step. */
  calls: Map<string, string[]>;
  /** WATCHED_PATHS and the groups after each step. */
  after: Map<string, Record<string, string>>;
  /** Steps whose script exited non-zero, and everything the scripts printed. */
  failed: string[];
  output: string;
}

/**
 * Runs the rendered maintainer scripts, step by step, as root in a throwaway copy of this
 * machine: a private mount namespace with an overlay of `/` on a tmpfs, chrooted into, so every
 * file they write or remove lands in the tmpfs and vanishes with the namespace. The app's files
 * are put where the package unpacks them, /run/systemd/system marks a systemd boot, and the
 * stubs come first on PATH (ischroot is called by its path, so it is replaced in the overlay).
 */
function runMaintainerScripts(
  scripts: FpmScripts,
  steps: readonly MaintainerStep[],
): MaintainerRun {
  const dir = fs.mkdtempSync(path.join(tmp, 'maint-'));
  const io = path.join(dir, 'io');
  const ns = path.join(dir, 'ns');
  fs.mkdirSync(path.join(io, 'stubs'), { recursive: true });
  fs.mkdirSync(ns);
  for (const [name, body] of Object.entries(MAINTAINER_STUBS)) {
    fs.writeFileSync(
      path.join(io, 'stubs', name),
      `#!/bin/sh\nline=$(basename "$0")\n[ $# -eq 0 ] || line="$line $*"\necho "$line" >>"$STUB_LOG"\n${body}\n`,
      { mode: 0o755 },
    );
  }
  fs.copyFileSync(scripts.afterInstall, path.join(io, 'after-install'));
  fs.copyFileSync(scripts.afterRemove, path.join(io, 'after-remove'));
  fs.copyFileSync(
    path.join(ROOT, 'packaging/linux/before-remove.sh'),
    path.join(io, 'before-remove'),
  );
  fs.copyFileSync(UNIT, path.join(io, 'trellisd.service'));
  const q = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  fs.writeFileSync(
    path.join(io, 'steps.sh'),
    `set -eu
T=/trellis-test
export PATH="$T/stubs:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export STUB_LOG="$T/calls.log" STUB_GROUPS="$T/groups" SUDO_USER=alice
: >"$STUB_GROUPS"
app=/opt/Trellis
mkdir -p "$app/resources/helper/bin" "$app/resources/helper/service" /run/systemd/system /var/lib/trellis
cp "$T/trellisd.service" "$app/resources/helper/service/trellisd.service"
for f in trellis-desktop chrome-sandbox resources/apparmor-profile resources/helper/bin/trellis resources/helper/bin/trellisd; do
  : >"$app/$f"
done
: >/var/lib/trellis/state.json
cp "$T/stubs/ischroot" /usr/bin/ischroot
snapshot() {
  for p in ${WATCHED_PATHS.join(' ')}; do
    if [ -L "$p" ]; then echo "$p -> $(readlink "$p")"
    elif [ -d "$p" ]; then echo "$p dir"
    elif [ -f "$p" ]; then echo "$p file $(stat -c %a "$p") $(sha256sum <"$p" | cut -c1-16)"
    else echo "$p absent"; fi
  done
  echo "groups $(tr '\\n' ' ' <"$STUB_GROUPS")"
}
step() {
  name=$1
  shift
  echo "## $name" >>"$STUB_LOG"
  sh "$@" >>"$T/output.log" 2>&1 || echo "$name exited $?" >>"$T/failed.log"
  snapshot >"$T/state-$name"
}
${steps.map(([name, script, ...args]) => `step ${q(name)} "$T/${script}" ${args.map(q).join(' ')}`).join('\n')}
`,
  );
  fs.writeFileSync(
    path.join(dir, 'runner.sh'),
    `set -eu
io=$1 ns=$2
mount -t tmpfs trellis-test "$ns"
mkdir "$ns/upper" "$ns/work" "$ns/root"
mount -t overlay trellis-test -o "lowerdir=/,upperdir=$ns/upper,workdir=$ns/work" "$ns/root"
mount -t proc proc "$ns/root/proc"
mount --rbind /dev "$ns/root/dev"
mkdir "$ns/root/trellis-test"
mount --bind "$io" "$ns/root/trellis-test"
chroot "$ns/root" /bin/sh /trellis-test/steps.sh
`,
  );
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', path.join(dir, 'runner.sh'), io, ns],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`maintainer script run failed (${r.status}): ${r.stderr}`);
  const read = (f: string) =>
    fs.existsSync(path.join(io, f)) ? fs.readFileSync(path.join(io, f), 'utf8') : '';
  const calls = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of read('calls.log').split('\n').filter(Boolean)) {
    if (line.startsWith('## ')) calls.set(line.slice(3), (current = []));
    else current.push(line);
  }
  const after = new Map<string, Record<string, string>>();
  for (const [name] of steps) {
    const state: Record<string, string> = {};
    for (const line of read(`state-${name}`).split('\n').filter(Boolean)) {
      const i = line.indexOf(' ');
      state[line.slice(0, i)] = line.slice(i + 1).trim();
    }
    after.set(name, state);
  }
  return {
    calls,
    after,
    failed: read('failed.log').split('\n').filter(Boolean),
    output: read('output.log'),
  };
}

const shortHash = (text: string) =>
  crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);

describe('deb and rpm maintainer scripts through install, upgrade and removal (stubbed system tools, throwaway root)', () => {
  let deb: FpmScripts;
  let rpm: FpmScripts;
  const hostBefore = new Map<string, boolean>();

  beforeAll(async () => {
    if (process.getuid?.() !== 0)
      throw new Error('e2e/packaging needs root (mount namespaces for the maintainer scripts)');
    requireTool('unshare', 'util-linux');
    requireTool('chroot', 'coreutils');
    for (const p of WATCHED_PATHS) hostBefore.set(p, fs.existsSync(p));
    const config = await builderConfig();
    deb = await renderMaintainerScripts(config, 'deb');
    rpm = await renderMaintainerScripts(config, 'rpm');
  });

  afterAll(() => {
    // Nothing escaped the throwaway root.
    for (const p of WATCHED_PATHS) expect(fs.existsSync(p), p).toBe(hostBefore.get(p));
  });

  const installed = () => ({
    '/usr/bin/trellis-desktop': '-> /opt/Trellis/trellis-desktop',
    '/usr/bin/trellis': '-> /opt/Trellis/resources/helper/bin/trellis',
    '/usr/sbin/trellisd': '-> /opt/Trellis/resources/helper/bin/trellisd',
    '/usr/lib/systemd/system/trellisd.service': `file 644 ${shortHash(fs.readFileSync(UNIT, 'utf8'))}`,
    '/etc/apparmor.d/trellis-desktop': `file 644 ${shortHash('')}`,
    '/opt/Trellis/chrome-sandbox': `file 755 ${shortHash('')}`,
    '/var/lib/trellis': 'dir',
    groups: 'trellis',
  });
  const removed = () => ({
    ...installed(),
    '/usr/bin/trellis-desktop': 'absent',
    '/usr/bin/trellis': 'absent',
    '/usr/sbin/trellisd': 'absent',
    '/usr/lib/systemd/system/trellisd.service': 'absent',
    '/etc/apparmor.d/trellis-desktop': 'absent',
  });
  const configureCalls = (firstInstall: boolean) => [
    'unshare --user true',
    'update-mime-database /usr/share/mime',
    'update-desktop-database /usr/share/applications',
    'apparmor_parser --skip-kernel-load /opt/Trellis/resources/apparmor-profile',
    'ischroot',
    'apparmor_parser --replace --write-cache --skip-read-cache /etc/apparmor.d/trellis-desktop',
    'getent group trellis',
    ...(firstInstall ? ['groupadd --system trellis'] : []),
    'id alice',
    'usermod -a -G trellis alice',
    'systemctl daemon-reload',
    'systemctl enable trellisd.service',
    'systemctl restart trellisd.service',
  ];
  const removeCalls = [
    'systemctl daemon-reload',
    'systemctl reset-failed trellisd.service',
    'apparmor_parser --remove /etc/apparmor.d/trellis-desktop',
  ];

  it('deb: postinst installs and starts the helper; an upgrade restarts it; remove stops it and keeps state; purge removes state and group', () => {
    const run = runMaintainerScripts(deb, [
      ['install', 'after-install', 'configure', ''],
      // dpkg's upgrade order: old prerm, old postrm, new postinst.
      ['upgrade-prerm', 'before-remove', 'upgrade', '0.1.1'],
      ['upgrade-postrm', 'after-remove', 'upgrade', '0.1.1'],
      ['upgrade-postinst', 'after-install', 'configure', '0.1.0'],
      ['remove-prerm', 'before-remove', 'remove'],
      ['remove-postrm', 'after-remove', 'remove'],
      ['purge-postrm', 'after-remove', 'purge'],
    ]);
    expect(run.failed, run.output).toEqual([]);
    expect(run.calls.get('install')).toEqual(configureCalls(true));
    expect(run.after.get('install')).toEqual(installed());
    expect(run.calls.get('upgrade-prerm')).toEqual([]);
    expect(run.calls.get('upgrade-postrm')).toEqual([]);
    expect(run.after.get('upgrade-postrm')).toEqual(installed());
    expect(run.calls.get('upgrade-postinst')).toEqual(configureCalls(false));
    expect(run.after.get('upgrade-postinst')).toEqual(installed());
    expect(run.calls.get('remove-prerm')).toEqual(['systemctl disable --now trellisd.service']);
    expect(run.calls.get('remove-postrm')).toEqual(removeCalls);
    expect(run.after.get('remove-postrm')).toEqual(removed());
    expect(run.calls.get('purge-postrm')).toEqual([
      'systemctl daemon-reload',
      'systemctl reset-failed trellisd.service',
      'getent group trellis',
      'groupdel trellis',
    ]);
    expect(run.after.get('purge-postrm')).toEqual({
      ...removed(),
      '/var/lib/trellis': 'absent',
      groups: '',
    });
  });

  it('rpm: %post installs; an upgrade (new %post, then old %preun and %postun) keeps it installed; erase removes it and keeps state', () => {
    const run = runMaintainerScripts(rpm, [
      ['install', 'after-install', '1'],
      ['upgrade-post', 'after-install', '2'],
      ['upgrade-preun', 'before-remove', '1'],
      ['upgrade-postun', 'after-remove', '1'],
      ['erase-preun', 'before-remove', '0'],
      ['erase-postun', 'after-remove', '0'],
    ]);
    expect(run.failed, run.output).toEqual([]);
    expect(run.calls.get('install')).toEqual(configureCalls(true));
    expect(run.calls.get('upgrade-post')).toEqual(configureCalls(false));
    expect(run.calls.get('upgrade-preun')).toEqual([]);
    expect(run.calls.get('upgrade-postun')).toEqual([]);
    expect(run.after.get('upgrade-postun')).toEqual(installed());
    expect(run.calls.get('erase-preun')).toEqual(['systemctl disable --now trellisd.service']);
    expect(run.calls.get('erase-postun')).toEqual(removeCalls);
    expect(run.after.get('erase-postun')).toEqual(removed());
  });
});

function writeTmp(name: string, text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(tmp, 'f-')), name);
  fs.writeFileSync(file, text);
  return file;
}

/** A plist's top-level dict as a plain object (strict XML parse; throws on malformed input). */
function parsePlist(file: string): Record<string, unknown> {
  const xml = fs.readFileSync(file, 'utf8');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`${file}: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = new XMLParser({ preserveOrder: true, ignoreAttributes: false }).parse(xml) as PNode[];
  const plist = doc.find((n) => 'plist' in n);
  const dict = (plist?.plist as PNode[] | undefined)?.find((n) => 'dict' in n);
  if (!dict) throw new Error(`${file}: no <plist><dict>`);
  return plistValue(dict) as Record<string, unknown>;
}

type PNode = Record<string, unknown>;

function plistValue(node: PNode): unknown {
  const [tag] = Object.keys(node).filter((k) => k !== ':@');
  const children = (node[tag ?? ''] as PNode[]) ?? [];
  const text = () => String((children[0] as { '#text'?: unknown } | undefined)?.['#text'] ?? '');
  switch (tag) {
    case 'dict': {
      const out: Record<string, unknown> = {};
      const items = children.filter((c) => !('#comment' in c));
      for (let i = 0; i < items.length; i += 2) {
        const k = items[i];
        const v = items[i + 1];
        if (!k || !('key' in k) || !v) throw new Error('plist dict: key without value');
        out[String(plistValue(k))] = plistValue(v);
      }
      return out;
    }
    case 'array':
      return children.filter((c) => !('#comment' in c)).map(plistValue);
    case 'key':
    case 'string':
      return text();
    case 'integer':
      return Number(text());
    case 'true':
      return true;
    case 'false':
      return false;
    default:
      throw new Error(`plist: unexpected <${tag}>`);
  }
}

// ---------------------------------------------------------------------------------------------

describe('the helper started as the packaged service starts it', () => {
  const NETNS = `trpk-${run}`;
  const root = path.join(tmp, 'root');
  const stateDir = path.join(root, 'var/lib/trellis');
  const runDir = path.join(root, 'run/trellis');
  const socket = path.join(runDir, 'trellisd.sock');
  let daemon: ChildProcess | null = null;
  let stderr = '';

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('e2e/packaging needs root (network namespaces)');
    requireTool('ip', 'iproute2');
    requireBuild();
    const add = spawnSync('ip', ['netns', 'add', NETNS], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add: ${add.stderr}`);
    // `ip netns exec` mounts /etc/netns/<ns>/* over /etc: the namespace sees a `trellis` group
    // (the unit's --socket-group) without one being added to this machine.
    const etc = path.join('/etc/netns', NETNS);
    fs.mkdirSync(etc, { recursive: true });
    fs.writeFileSync(
      path.join(etc, 'group'),
      `${fs.readFileSync('/etc/group', 'utf8').trimEnd()}\ntrellis:x:64999:\n`,
    );
    // What systemd makes for StateDirectory= and RuntimeDirectory=.
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(runDir, { recursive: true, mode: 0o755 });
  });

  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon?.once('exit', r));
    }
    spawnSync('ip', ['netns', 'del', NETNS]);
    fs.rmSync(path.join('/etc/netns', NETNS), { recursive: true, force: true });
  });

  function cli(args: string[]) {
    return spawnSync(path.join(STAGE, 'bin/trellis'), args, {
      encoding: 'utf8',
      env: { ...process.env, TRELLIS_SOCKET: socket, TRELLIS_NODE: process.execPath },
      timeout: 30_000,
    });
  }

  it('runs the exact ExecStart, answers the CLI, and stops cleanly on SIGTERM', async () => {
    const [execStart] = unitValue('ExecStart');
    const argv = (execStart ?? '')
      .replaceAll(INSTALLED_HELPER, STAGE)
      .replaceAll('/var/lib/trellis', stateDir)
      .replaceAll('/run/trellis', runDir)
      .split(' ');
    daemon = spawn('ip', ['netns', 'exec', NETNS, ...argv], {
      // No Electron binary here: the launcher falls back to this Node and says so.
      env: { ...process.env, TRELLIS_NODE: process.execPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    daemon.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));

    const deadline = Date.now() + 60_000;
    let version = cli(['version']);
    while (
      !/^trellisd /m.test(version.stdout) &&
      Date.now() < deadline &&
      daemon.exitCode === null
    ) {
      await new Promise((r) => setTimeout(r, 250));
      version = cli(['version']);
    }
    expect(daemon.exitCode, stderr).toBeNull();
    expect(stderr).toContain('the Electron binary');
    expect(stderr).toContain(`running under ${process.execPath}`);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout).toMatch(
      new RegExp(`^trellisd ${pkg.version.replaceAll('.', '\\.')} `, 'm'),
    );

    const status = cli(['status', '--json']);
    expect(status.status, status.stderr).toBe(0);
    const parsed = Status.parse(JSON.parse(status.stdout));
    expect(parsed.daemonVersion).toBe(pkg.version);
    // A fresh state directory: nothing registered, no tunnel.
    expect(parsed.self).toBeNull();

    // The socket is root's and the trellis group's only; the state directory root's only.
    const st = fs.statSync(socket);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(64999);
    expect(fs.statSync(stateDir).mode & 0o777).toBe(0o700);

    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => daemon?.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(fs.existsSync(socket)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

/** The sample of native/wireguard-nt/layout-check.c, field for field. */
const fill = (first: number) => new Uint8Array(32).map((_, i) => first + i);
const SAMPLE_NT_CONFIG: NtInterface = {
  flags:
    NtInterfaceFlag.HAS_PRIVATE_KEY |
    NtInterfaceFlag.HAS_LISTEN_PORT |
    NtInterfaceFlag.REPLACE_PEERS,
  listenPort: 41641,
  privateKey: fill(0x01),
  publicKey: fill(0x80),
  peers: [
    {
      flags:
        NtPeerFlag.HAS_PUBLIC_KEY |
        NtPeerFlag.HAS_ENDPOINT |
        NtPeerFlag.HAS_PERSISTENT_KEEPALIVE |
        NtPeerFlag.REPLACE_ALLOWED_IPS,
      publicKey: fill(0x40),
      presharedKey: ZERO_KEY,
      persistentKeepalive: 25,
      endpoint: { family: 'ipv4', address: new Uint8Array([192, 0, 2, 10]), port: 51820 },
      txBytes: 0x0102030405060708n,
      rxBytes: 0x1112131415161718n,
      lastHandshake: 133000000000000000n,
      allowedIps: [
        { family: 'ipv4', address: new Uint8Array([100, 64, 0, 5]), cidr: 32 },
        {
          family: 'ipv6',
          address: new Uint8Array([
            0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
          ]),
          cidr: 128,
        },
      ],
    },
    {
      flags: NtPeerFlag.HAS_PUBLIC_KEY | NtPeerFlag.HAS_ENDPOINT | NtPeerFlag.UPDATE_ONLY,
      publicKey: fill(0xa0),
      presharedKey: ZERO_KEY,
      persistentKeepalive: 0,
      endpoint: {
        family: 'ipv6',
        address: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        port: 41641,
        flowInfo: 0x12345,
        scopeId: 7,
      },
      txBytes: 0n,
      rxBytes: 0n,
      lastHandshake: 0n,
      allowedIps: [{ family: 'ipv4', address: new Uint8Array([10, 1, 0, 0]), cidr: 16 }],
    },
  ],
};

function gcc(source: string, out: string, extra: string[] = []): void {
  requireTool('gcc', 'gcc');
  const r = spawnSync(
    'gcc',
    ['-std=c11', '-Wall', '-Wextra', '-Werror', '-O1', ...extra, '-o', out, source],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`gcc ${source}: ${r.stderr}`);
}

describe('wireguard-nt struct layout and marshalling (Windows cannot run here)', () => {
  let sizes: Map<string, number>;
  let aligns: Map<string, number>;
  let offsets: Map<string, number>;
  let hex: string;

  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(tmp, 'wgnt-'));
    const src = path.join(dir, 'layout-check.c');
    fs.copyFileSync(path.join(ROOT, 'native/wireguard-nt/layout-check.c'), src);
    gcc(src, path.join(dir, 'layout-check'));
    const r = spawnSync(path.join(dir, 'layout-check'), { encoding: 'utf8' });
    expect(r.status).toBe(0);
    sizes = new Map();
    aligns = new Map();
    offsets = new Map();
    hex = '';
    for (const l of r.stdout.trim().split('\n')) {
      const [kind, name, value] = l.split(' ');
      if (kind === 'size') sizes.set(name ?? '', Number(value));
      else if (kind === 'align') aligns.set(name ?? '', Number(value));
      else if (kind === 'offset') offsets.set(name ?? '', Number(value));
      else if (kind === 'hex') hex = name ?? '';
    }
  });

  it('matches the C compiler: every size, alignment and field offset', () => {
    for (const [struct, layout] of Object.entries(NT_LAYOUT)) {
      expect(sizes.get(struct), struct).toBe(layout.size);
      expect(aligns.get(struct), struct).toBe(layout.align);
      for (const [field, offset] of Object.entries(layout.fields)) {
        expect(offsets.get(`${struct}.${field}`), `${struct}.${field}`).toBe(offset);
      }
    }
    expect(offsets.size).toBe(
      Object.values(NT_LAYOUT).reduce((n, l) => n + Object.keys(l.fields).length, 0),
    );
  });

  it("matches koffi's layout of the FFI struct types", () => {
    const t = ntKoffiTypes(koffi);
    const types = {
      WIREGUARD_ALLOWED_IP: t.WIREGUARD_ALLOWED_IP,
      WIREGUARD_PEER: t.WIREGUARD_PEER,
      WIREGUARD_INTERFACE: t.WIREGUARD_INTERFACE,
    };
    for (const [struct, type] of Object.entries(types)) {
      expect(koffi.sizeof(type), struct).toBe(sizes.get(struct));
      expect(koffi.alignof(type), struct).toBe(aligns.get(struct));
      for (const field of Object.keys(NT_LAYOUT[struct as keyof typeof types].fields)) {
        expect(koffi.offsetof(type, field), `${struct}.${field}`).toBe(
          offsets.get(`${struct}.${field}`),
        );
      }
    }
    expect(koffi.sizeof(t.SOCKADDR_INET)).toBe(sizes.get('SOCKADDR_INET'));
    expect(koffi.alignof(t.SOCKADDR_INET)).toBe(aligns.get('SOCKADDR_INET'));
    expect(koffi.offsetof(t.SOCKADDR_IN6, 'sin6_scope_id')).toBe(
      offsets.get('SOCKADDR_INET.sin6_scope_id'),
    );
  });

  it('serializes the sample configuration byte for byte as the C program does, and reads it back', () => {
    const buf = encodeNtConfig(SAMPLE_NT_CONFIG);
    expect(buf.toString('hex')).toBe(hex);
    const back = decodeNtConfig(Buffer.from(hex, 'hex'));
    expect(back.ok).toBe(true);
    if (back.ok) expect(encodeNtConfig(back.value).toString('hex')).toBe(hex);
    // koffi decodes the C bytes into the same interface fields.
    const iface = koffi.decode(
      Buffer.from(hex, 'hex'),
      ntKoffiTypes(koffi).WIREGUARD_INTERFACE,
    ) as {
      Flags: number;
      ListenPort: number;
      PeersCount: number;
    };
    expect(iface).toMatchObject({
      Flags: SAMPLE_NT_CONFIG.flags,
      ListenPort: 41641,
      PeersCount: 2,
    });
  });
});

describe('wireguard-nt koffi bindings against a stand-in wireguard.dll built here (Windows cannot run here)', () => {
  let lib: LibraryHandle;
  let stateOf: (name: string) => number;
  let guidOf: (name: string, out: Buffer) => number;

  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(tmp, 'standin-'));
    const so = path.join(dir, 'libwireguard-standin.so');
    gcc(path.join(ROOT, 'native/wireguard-nt/test/stand-in-wireguard.c'), so, ['-shared', '-fPIC']);
    lib = koffi.load(so);
    stateOf = lib.func('int StandInAdapterState(const char16_t *Name)');
    guidOf = lib.func('int StandInAdapterGuid(const char16_t *Name, uint8_t *Out)');
  });
  afterAll(() => lib?.unload());

  it('creates, opens, configures (growing the buffer), logs and closes through real native calls', () => {
    const getLastError = lib.func('uint32_t StandInGetLastError()');
    const api = bindWireGuardNt(koffi, lib, () => Number(getLastError()));
    const logs: string[] = [];
    api.setLogger((level, _t, message) => logs.push(`${level}:${message}`));

    const h = api.createAdapter('trellis0', 'Trellis', adapterGuid('trellis0'));
    const guid = Buffer.alloc(16);
    expect(guidOf('trellis0', guid)).toBe(1);
    expect(guid.equals(Buffer.from(adapterGuid('trellis0')))).toBe(true);

    try {
      api.openAdapter('missing0');
      expect.unreachable('opening a missing adapter must fail');
    } catch (e) {
      expect(e).toBeInstanceOf(WireGuardNtError);
      expect(e).toMatchObject({ code: 'call_failed', win32Error: 2 });
    }

    // 40 peers: more than the first 4 KiB GetConfiguration guess, so ERROR_MORE_DATA is exercised.
    const peers = Array.from({ length: 40 }, (_, i) => ({
      ...SAMPLE_NT_CONFIG.peers[0]!,
      publicKey: new Uint8Array(32).fill(i + 1),
    }));
    const config = encodeNtConfig({ ...SAMPLE_NT_CONFIG, peers });
    expect(config.length).toBeGreaterThan(4096);
    api.setConfiguration(h, config);
    const same = api.openAdapter('trellis0');
    expect(api.getConfiguration(same).equals(config)).toBe(true);

    api.setAdapterState(h, true);
    expect(stateOf('trellis0')).toBe(1);
    expect(logs).toEqual(['0:adapter up']);
    api.setLogger(null);
    api.setAdapterState(h, false);
    expect(logs).toHaveLength(1);
    api.closeAdapter(h);
    expect(stateOf('trellis0')).toBe(-1);
  });

  it('drives the Windows backend end to end through the bindings', async () => {
    const getLastError = lib.func('uint32_t StandInGetLastError()');
    const netsh: string[][] = [];
    const backend = new WireGuardNtBackend({
      loadApi: async () => bindWireGuardNt(koffi, lib, () => Number(getLastError())),
      exec: async (command, args) => {
        netsh.push([command, ...args]);
        return { stdout: '', stderr: '' };
      },
    });
    const dev = await backend.create('trellis7', { mtu: 1280 });
    const peer = keyToBase64(generateKeyPair().publicKey);
    await dev.apply({
      privateKey: keyToBase64(generateKeyPair().privateKey),
      listenPort: 41641,
      fwmark: 0,
      peers: [
        {
          publicKey: peer,
          endpoint: '192.0.2.7:51820',
          allowedIps: ['100.64.0.7/32'],
          persistentKeepalive: 25,
        },
      ],
    });
    expect(stateOf('trellis7')).toBe(1);
    // The stand-in returns the last buffer it was given: the first apply's full config.
    const stats = await dev.stats();
    expect(stats).toMatchObject({
      listenPort: 41641,
      peers: [{ publicKey: peer, endpoint: '192.0.2.7:51820' }],
    });
    expect(netsh.map((c) => c[2])).toEqual(['ipv4', 'ipv6']);
    await dev.close();
    expect(stateOf('trellis7')).toBe(-1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the Windows service host (built with mingw-w64; Windows cannot run here)', () => {
  it('compiles with -Wall -Wextra -Werror into an x86-64 console PE importing only kernel32 and advapi32', () => {
    requireTool('x86_64-w64-mingw32-gcc', 'gcc-mingw-w64-x86-64');
    const out = path.join(tmp, 'trellis-service.exe');
    const built = buildWinService({ out });
    if (!built.ok) throw new Error(built.error);
    const dump = spawnSync('x86_64-w64-mingw32-objdump', ['-p', out], { encoding: 'utf8' });
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stdout).toMatch(/file format pei-x86-64/);
    expect(dump.stdout).toMatch(/^Magic\s+020b\s+\(PE32\+\)$/m);
    expect(dump.stdout).toMatch(/^Subsystem\s+00000003\s+\(Windows CUI\)$/m);
    const dlls = [...dump.stdout.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1]?.toLowerCase());
    expect(dlls.sort()).toEqual(['advapi32.dll', 'kernel32.dll']);
    // The service protocol and the child's lifetime, by import name.
    for (const fn of [
      'StartServiceCtrlDispatcherW',
      'RegisterServiceCtrlHandlerExW',
      'SetServiceStatus',
      'CreateProcessW',
      'CreateJobObjectW',
      'SetInformationJobObject',
      'AssignProcessToJobObject',
      'TerminateJobObject',
      'CreatePipe',
    ])
      expect(dump.stdout, fn).toMatch(new RegExp(`\\b${fn}\\b`));
    // A compile error is reported, not swallowed.
    const bad = writeTmp('bad-service.c', 'int entry(void) { return undeclared; }\n');
    const failed = buildWinService({ source: bad, out: path.join(tmp, 'bad.exe') });
    expect(failed.ok).toBe(false);
    expect(!failed.ok && failed.error).toMatch(/undeclared/);
    const missing = buildWinService({ cc: 'no-such-mingw-gcc', out: path.join(tmp, 'x.exe') });
    expect(!missing.ok && missing.error).toMatch(/no-such-mingw-gcc is missing: install mingw-w64/);
  });

  it('is packed into the helper resources by dist:win', () => {
    const yml = fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8');
    expect(yml).toMatch(
      /- from: dist\/windows-service\/trellis-service\.exe\n\s+to: helper\/service\/trellis-service\.exe/,
    );
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['build:win-service']).toBe('node packaging/scripts/build-win-service.mjs');
    expect(fs.readFileSync(path.join(ROOT, 'packaging/scripts/dist.mjs'), 'utf8')).toContain(
      "if (platform === 'win') run('npm', ['run', 'build:win-service']);",
    );
  });

  it('the install script registers an automatic LocalSystem service with recovery, and removes the old task', () => {
    const ps1 = fs.readFileSync(path.join(ROOT, 'packaging/windows/install-service.ps1'), 'utf8');
    expect(ps1).toContain(
      "$ServiceHost = Join-Path $InstallDir 'resources\\helper\\service\\trellis-service.exe'",
    );
    expect(ps1).toContain(
      '$binPath = "`"$ServiceHost`" --name $ServiceName --log-dir `"$LogDir`" -- `"$Launcher`" $arguments"',
    );
    expect(ps1).toMatch(
      /"create \$ServiceName binPath= " \+ \(Format-ScArgument \$binPath\) \+\s+" start= auto obj= LocalSystem DisplayName= "/,
    );
    expect(ps1).toContain('"description $ServiceName "');
    expect(ps1).toContain(
      '"failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/30000"',
    );
    expect(ps1).toContain('"failureflag $ServiceName 1"');
    expect(ps1).toContain('"start $ServiceName"');
    expect(ps1).toMatch(/Unregister-ScheduledTask -TaskName \$LegacyTaskName/);
    expect(ps1).not.toMatch(/Register-ScheduledTask\b/);
    expect(ps1).not.toMatch(/--socket/);
    const un = fs.readFileSync(path.join(ROOT, 'packaging/windows/uninstall-service.ps1'), 'utf8');
    expect(un).toMatch(/Stop-Service -Name \$ServiceName/);
    expect(un).toMatch(/sc\.exe'\) delete \$ServiceName/);
    expect(un).toMatch(/Unregister-ScheduledTask -TaskName \$LegacyTaskName/);
  });
});

describe('trellisd --stop-on-stdin-close, as the Windows service host stops it', () => {
  const NETNS = `trsc-${run}`;
  const TUN = `trsc${run}`;
  const dir = path.join(tmp, 'stdin-stop');
  const socket = path.join(dir, 'trellisd.sock');
  const stateDir = path.join(dir, 'state');
  let control: TestControl | null = null;
  let daemon: ChildProcess | null = null;
  let log = '';

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('e2e/packaging needs root (network namespaces)');
    for (const [tool, pkg] of [
      ['ip', 'iproute2'],
      ['wireguard-go', 'wireguard-go'],
      ['wg', 'wireguard-tools'],
    ] as const)
      requireTool(tool, pkg);
    requireBuild();
    const add = spawnSync('ip', ['netns', 'add', NETNS], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`ip netns add: ${add.stderr}`);
    spawnSync('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
    fs.mkdirSync(dir, { recursive: true });
  });

  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon?.once('exit', r));
    }
    spawnSync('ip', ['-n', NETNS, 'link', 'del', TUN]);
    spawnSync('ip', ['netns', 'del', NETNS]);
    await control?.stop();
  });

  const linkExists = () =>
    spawnSync('ip', ['-n', NETNS, 'link', 'show', TUN], { encoding: 'utf8' }).status === 0;

  /** Asynchronous: control runs in this process, so a blocking spawnSync would starve it. */
  function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(path.join(STAGE, 'bin/trellis'), args, {
        env: { ...process.env, TRELLIS_SOCKET: socket, TRELLIS_NODE: process.execPath },
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('exit', (status) => resolve({ status, stdout, stderr }));
    });
  }

  it('keeps running while stdin is open, then removes its interface and socket and exits 0 when it closes', async () => {
    control = await startTestControl('sqlite');
    const network = control.server.bootstrap.network;
    const owner = await control.server.store.users.findByEmail(network.id, control.owner.email);
    if (!owner) throw new Error('no owner');
    const { key } = await control.server.store.preauthKeys.create({
      networkId: network.id,
      createdBy: owner.id,
      expiresAt: new Date(Date.now() + 3600_000),
      reusable: false,
      preapproved: true,
    });
    // The staged launcher, as the service host starts trellisd.cmd: stdin is a pipe we hold.
    daemon = spawn(
      path.join(STAGE, 'bin/trellisd'),
      [
        '--state-dir',
        stateDir,
        '--socket',
        socket,
        '--control-url',
        control.url,
        '--tun-name',
        TUN,
        '--backend',
        'wireguard-go',
        '--netns',
        NETNS,
        '--stop-on-stdin-close',
      ],
      {
        env: { ...process.env, TRELLIS_NODE: process.execPath },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    daemon.stdout?.on('data', (b: Buffer) => (log += b.toString()));
    daemon.stderr?.on('data', (b: Buffer) => (log += b.toString()));

    const deadline = Date.now() + 60_000;
    let version = await cli(['version']);
    while (
      !/^trellisd /m.test(version.stdout) &&
      Date.now() < deadline &&
      daemon.exitCode === null
    ) {
      await new Promise((r) => setTimeout(r, 250));
      version = await cli(['version']);
    }
    expect(daemon.exitCode, log).toBeNull();
    const up = await cli(['up', '--auth-key', key, '--timeout', '60s']);
    expect(up.status, `${up.stderr}\n${log.slice(-3000)}`).toBe(0);
    expect(linkExists()).toBe(true);
    const addrs = spawnSync('ip', ['-n', NETNS, '-4', 'addr', 'show', 'dev', TUN], {
      encoding: 'utf8',
    }).stdout;
    expect(addrs).toMatch(/inet 100\./);
    expect(daemon.exitCode).toBeNull();

    const exited = new Promise<number | null>((r) => daemon?.once('exit', (c) => r(c)));
    daemon.stdin?.end();
    expect(await exited, log.slice(-3000)).toBe(0);
    expect(log).toContain('"signal":"stdin closed"');
    expect(linkExists()).toBe(false);
    expect(fs.existsSync(socket)).toBe(false);
    // The login stays: the next start brings the tunnel back.
    expect(fs.existsSync(path.join(stateDir, 'registration.json'))).toBe(true);
  });
});
