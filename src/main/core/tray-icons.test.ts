import { inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../shared/stun/crc32.js';
import { encodePng } from './png.js';
import { drawTrayIcon, TRAY_ICON_SIZES, trayIconPng } from './tray-icons.js';
import type { TrayIcon } from './tray-model.js';

const ICONS: TrayIcon[] = [
  'needs-login',
  'disconnected',
  'connecting',
  'connected',
  'exit-node',
  'error',
];

/** Reads back what encodePng wrote: chunk CRCs checked, IDAT inflated, filter bytes removed. */
function decodePng(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    expect(png.readUInt32BE(off + 8 + len)).toBe(crc32(png.subarray(off + 4, off + 8 + len)));
    types.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9], data[10], data[11], data[12]]).toEqual([8, 6, 0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
  const raw = inflateSync(Buffer.concat(idat));
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    rgba.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, rgba };
}

describe('encodePng', () => {
  it('round-trips any RGBA image', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.infiniteStream(fc.integer({ min: 0, max: 255 })),
        (w, h, bytes) => {
          const rgba = Uint8Array.from(bytes.take(w * h * 4));
          const back = decodePng(encodePng(w, h, rgba));
          expect(back.width).toBe(w);
          expect(back.height).toBe(h);
          expect(back.rgba).toEqual(rgba);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a pixel buffer of the wrong size', () => {
    expect(() => encodePng(2, 2, new Uint8Array(15))).toThrow(/does not match/);
  });
});

describe('tray icons', () => {
  it('draws a distinct icon per state, in both variants and sizes', () => {
    for (const variant of ['template', 'color'] as const) {
      for (const size of TRAY_ICON_SIZES) {
        const seen = new Set<string>();
        for (const icon of ICONS) {
          const png = trayIconPng(icon, variant, size);
          const { width, rgba } = decodePng(png);
          expect(width).toBe(size);
          seen.add(Buffer.from(rgba).toString('base64'));
        }
        expect(seen.size).toBe(ICONS.length);
      }
    }
  });

  it('makes template icons pure black with alpha, as macOS template images must be', () => {
    for (const icon of ICONS) {
      const px = drawTrayIcon(icon, 'template', 32);
      let opaque = 0;
      for (let i = 0; i < px.length; i += 4) {
        expect([px[i], px[i + 1], px[i + 2]]).toEqual([0, 0, 0]);
        if ((px[i + 3] ?? 0) > 200) opaque++;
      }
      // Visible at all: at least a tenth of the icon is solid ink.
      expect(opaque).toBeGreaterThan(32 * 32 * 0.1);
    }
  });

  it('fills more of the lattice the more connected the state', () => {
    const ink = (icon: TrayIcon) => {
      const px = drawTrayIcon(icon, 'template', 32);
      let sum = 0;
      for (let i = 3; i < px.length; i += 4) sum += px[i] ?? 0;
      return sum;
    };
    expect(ink('disconnected')).toBeLessThan(ink('connecting'));
    expect(ink('connecting')).toBeLessThan(ink('connected'));
  });
});
