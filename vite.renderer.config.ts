import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The React renderer: loaded by Electron's BrowserWindow and, identically, by the web bridge.
export default defineConfig({
  root: 'src/renderer',
  base: './',
  plugins: [react()],
  build: { outDir: '../../dist/renderer', emptyOutDir: true, sourcemap: true },
});
