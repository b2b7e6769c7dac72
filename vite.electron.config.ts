import { defineConfig } from 'vite';
import { builtinModules } from 'node:module';

// Electron main and preload as CommonJS bundles. The preload runs sandboxed, so it must be a
// single self-contained file; `electron` and Node built-ins stay external.
export default defineConfig({
  build: {
    outDir: 'dist/main',
    emptyOutDir: true,
    sourcemap: true,
    ssr: true,
    target: 'node20',
    rollupOptions: {
      input: { main: 'src/main/electron/main.ts', preload: 'src/main/electron/preload.ts' },
      external: ['electron', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)],
      output: { format: 'cjs', entryFileNames: '[name].cjs' },
    },
  },
  ssr: { noExternal: true },
});
