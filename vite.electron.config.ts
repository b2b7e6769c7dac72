import { build, defineConfig, type Plugin, type UserConfig } from 'vite';
import { builtinModules } from 'node:module';

// Electron main and preload as CommonJS bundles; `electron`, Node built-ins and native addons
// (the OS keychain binding loads a platform-specific .node file) stay external.
//
// The preload runs sandboxed, where require() reaches only `electron`: it must be one
// self-contained file. Built together with main, the bundler would move code both share into a
// chunk the preload then cannot load, so the preload is built in a second pass of its own.
const external = [
  'electron',
  '@napi-rs/keyring',
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
];

const bundle = (
  input: Record<string, string>,
  emptyOutDir: boolean,
  outDir: string,
): UserConfig => ({
  build: {
    outDir,
    emptyOutDir,
    sourcemap: true,
    ssr: true,
    target: 'node20',
    rollupOptions: {
      input,
      external,
      output: { format: 'cjs', entryFileNames: '[name].cjs', codeSplitting: false },
    },
  },
  ssr: { noExternal: true },
});

function preloadPass(): Plugin {
  let outDir = 'dist/main';
  return {
    name: 'trellis-preload-single-file',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    async closeBundle() {
      await build({
        configFile: false,
        logLevel: 'warn',
        ...bundle({ preload: 'src/main/electron/preload.ts' }, false, outDir),
      });
    },
  };
}

export default defineConfig({
  ...bundle({ main: 'src/main/electron/main.ts' }, true, 'dist/main'),
  plugins: [preloadPass()],
});
