// Writes build/icons/<N>x<N>.png (see app-icon.mjs). Run: npm run icons
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { APP_ICON_SIZES, appIconPng } from './app-icon.mjs';

const dir = path.resolve(import.meta.dirname, '../../build/icons');
mkdirSync(dir, { recursive: true });
for (const size of APP_ICON_SIZES) {
  const file = path.join(dir, `${size}x${size}.png`);
  writeFileSync(file, appIconPng(size));
  process.stdout.write(`${path.relative(process.cwd(), file)}\n`);
}
