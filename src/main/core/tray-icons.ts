/**
 * The tray icons, drawn in code: a 3×3 lattice of dots (the trellis) whose fill says the state,
 * plus a corner badge for states that need attention. Two variants per state:
 * - template: black on transparent, alpha only (macOS template images; the OS tints them), and
 *   what Linux and Windows get with a monochrome theme;
 * - color: the same shapes in a neutral grey with a colored badge, for light/dark-agnostic trays.
 * Each comes at 1x (16 px) and 2x (32 px).
 */
import { encodePng } from './png.js';
import type { TrayIcon } from './tray-model.js';

export type IconVariant = 'template' | 'color';
export const TRAY_ICON_SIZES = [16, 32] as const;

type Rgb = readonly [number, number, number];
const INK: Rgb = [0, 0, 0];
const GREY: Rgb = [128, 136, 144];
/**
 * Badges differ in shape as well as color, so the monochrome variant tells them apart too:
 * needs-login is a ring (something missing), exit-node a disc with a hole (a target: traffic
 * goes there), error a disc crossed out by a bar (a no-entry sign).
 */
type BadgeShape = 'ring' | 'hole' | 'bar';
const BADGE: Readonly<Record<TrayIcon, { rgb: Rgb; shape: BadgeShape } | null>> = {
  connected: null,
  disconnected: null,
  connecting: null,
  'needs-login': { rgb: [224, 160, 32], shape: 'ring' },
  'exit-node': { rgb: [45, 91, 227], shape: 'hole' },
  error: { rgb: [214, 48, 49], shape: 'bar' },
};

/** Which of the nine lattice dots are filled (the rest are drawn as rings). */
const FILLED: Readonly<Record<TrayIcon, readonly number[]>> = {
  connected: [0, 1, 2, 3, 4, 5, 6, 7, 8],
  'exit-node': [0, 1, 2, 3, 4, 5, 6, 7, 8],
  connecting: [0, 4, 8],
  disconnected: [],
  'needs-login': [],
  error: [],
};
/** A ring's stroke as a fraction of the icon: one pixel at 16 px, two at 32 px. */
const RING_STROKE = 0.065;
/** Mid grey: readable on light and dark trays alike. */

interface Canvas {
  readonly size: number;
  readonly px: Float32Array; // r, g, b, a in 0..1, premultiplied-free
}

/**
 * Paints an anti-aliased disc (coverage falls off over one pixel at the edge), or a ring of
 * `stroke` width when given.
 */
function disc(c: Canvas, cx: number, cy: number, r: number, rgb: Rgb, stroke?: number): void {
  const { size, px } = c;
  for (let y = Math.max(0, Math.floor(cy - r - 1)); y < Math.min(size, cy + r + 1); y++) {
    for (let x = Math.max(0, Math.floor(cx - r - 1)); x < Math.min(size, cx + r + 1); x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const outer = Math.min(1, Math.max(0, r + 0.5 - d));
      const inner = stroke === undefined ? 0 : Math.min(1, Math.max(0, r - stroke + 0.5 - d));
      const cover = outer - inner;
      if (cover <= 0) continue;
      const i = (y * size + x) * 4;
      const a0 = px[i + 3] ?? 0;
      const a = cover + a0 * (1 - cover);
      for (let k = 0; k < 3; k++) {
        const prev = px[i + k] ?? 0;
        px[i + k] = a > 0 ? ((rgb[k] ?? 0) / 255) * cover + (prev * a0 * (1 - cover)) / a : 0;
      }
      px[i + 3] = a;
    }
  }
}

/** Clears a disc (punches a hole), so a badge stands apart from the dots under it. */
function erase(c: Canvas, cx: number, cy: number, r: number): void {
  const { size, px } = c;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const keep = Math.min(1, Math.max(0, d - r + 0.5));
      const i = (y * size + x) * 4 + 3;
      px[i] = (px[i] ?? 0) * keep;
    }
  }
}

/** Clears an axis-aligned rectangle, anti-aliased at its edges. */
function eraseRect(c: Canvas, x0: number, y0: number, w: number, h: number): void {
  const { size, px } = c;
  const span = (a: number, lo: number, hi: number) =>
    Math.max(0, Math.min(a + 1, hi) - Math.max(a, lo));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const cover = span(x, x0, x0 + w) * span(y, y0, y0 + h);
      const i = (y * size + x) * 4 + 3;
      px[i] = (px[i] ?? 0) * (1 - cover);
    }
  }
}

/** The RGBA pixels of one icon. */
export function drawTrayIcon(icon: TrayIcon, variant: IconVariant, size: number): Uint8Array {
  const c: Canvas = { size, px: new Float32Array(size * size * 4) };
  const ink = variant === 'template' ? INK : GREY;
  const step = size / 3;
  const r = size * 0.13;
  const filled = new Set(FILLED[icon]);
  const badge = BADGE[icon];
  for (let i = 0; i < 9; i++) {
    if (badge && i === 8) continue; // the badge takes the bottom-right dot's place
    const cx = step * (i % 3) + step / 2;
    const cy = step * Math.floor(i / 3) + step / 2;
    disc(c, cx, cy, r, ink, filled.has(i) ? undefined : Math.max(1, size * RING_STROKE));
  }
  if (badge) {
    // Centred on the bottom-right dot, a little larger, with a gap that misses its neighbours.
    const br = size * 0.18;
    const bx = (step * 5) / 2;
    const by = (step * 5) / 2;
    erase(c, bx, by, br + size * 0.02);
    const rgb = variant === 'template' ? INK : badge.rgb;
    switch (badge.shape) {
      case 'ring':
        disc(c, bx, by, br, rgb, Math.max(1.5, size * 0.09));
        break;
      case 'hole':
        disc(c, bx, by, br, rgb);
        erase(c, bx, by, br * 0.4);
        break;
      case 'bar':
        disc(c, bx, by, br, rgb);
        eraseRect(
          c,
          bx - br * 0.6,
          by - Math.max(0.75, size * 0.035),
          br * 1.2,
          Math.max(1.5, size * 0.07),
        );
        break;
    }
  }
  const out = new Uint8Array(size * size * 4);
  for (let i = 0; i < out.length; i++) out[i] = Math.round((c.px[i] ?? 0) * 255);
  return out;
}

/** The PNG of one icon at one size. */
export function trayIconPng(icon: TrayIcon, variant: IconVariant, size: number): Buffer {
  return encodePng(size, size, drawTrayIcon(icon, variant, size));
}
