// The application icon (installers, desktop entries, the dock): the tray's trellis lattice,
// white, on a rounded blue square. Drawn in code like the tray icons (src/main/core/tray-icons.ts)
// so there is no binary design source to keep in step; `npm run icons` writes build/icons/, and
// e2e/packaging.test.ts checks the committed files are what this draws.
//
// Run through tsx (it imports the TypeScript tray drawing).
import { drawTrayIcon } from '../../src/main/core/tray-icons.ts';
import { encodePng } from '../../src/main/core/png.ts';

/** electron-builder's Linux icon set (NxN.png); 256 serves Windows, 512 macOS. */
export const APP_ICON_SIZES = [16, 32, 48, 64, 128, 256, 512];

const BLUE = [45, 91, 227];
/** Corner radius as a fraction of the size: the rounded square of current desktop icon styles. */
const CORNER = 0.22;
/** The lattice fills this much of the square, centred. */
const LATTICE = 0.7;

/** Coverage (0..1) of pixel (x, y) by a rounded square of side `size`, anti-aliased over one pixel. */
function squareCover(x, y, size) {
  const r = size * CORNER;
  const cx = Math.min(Math.max(x + 0.5, r), size - r);
  const cy = Math.min(Math.max(y + 0.5, r), size - r);
  const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
  return Math.min(1, Math.max(0, r + 0.5 - d));
}

/** RGBA pixels of the app icon at `size`. */
export function drawAppIcon(size) {
  const out = new Uint8Array(size * size * 4);
  const inner = Math.max(8, Math.round(size * LATTICE));
  const offset = Math.floor((size - inner) / 2);
  // The template (alpha-only) tray icon gives the lattice's coverage.
  const lattice = drawTrayIcon('connected', 'template', inner);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const lx = x - offset;
      const ly = y - offset;
      const a =
        lx >= 0 && ly >= 0 && lx < inner && ly < inner
          ? lattice[(ly * inner + lx) * 4 + 3] / 255
          : 0;
      for (let k = 0; k < 3; k++) out[i + k] = Math.round(BLUE[k] * (1 - a) + 255 * a);
      out[i + 3] = Math.round(squareCover(x, y, size) * 255);
    }
  }
  return out;
}

export const appIconPng = (size) => encodePng(size, size, drawAppIcon(size));
