import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The web admin console: served by trellis-control at /admin (src/control/console/assets.ts).
// Plain script and stylesheet tags only, so the page runs under a CSP without 'unsafe-inline'.
export default defineConfig({
  root: 'src/console',
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: '../../dist/console',
    emptyOutDir: true,
    sourcemap: true,
    // Every asset a file under assets/ (never a data: URL inlined into the CSS or the script).
    assetsInlineLimit: 0,
    // One script (React, zod and the shared schemas) served by control itself: no CDN to split
    // for, and one request is simplest to cache. Warn only well above its size.
    chunkSizeWarningLimit: 1024,
  },
});
