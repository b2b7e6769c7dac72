/**
 * The tray icon and its menu, rendered from the pure tray model on every state change (skipped
 * when nothing visible changed). Click behaviour follows each OS: on Windows a left click opens
 * the window and a right click the menu; on macOS and Linux (AppIndicator) a click opens the menu.
 */
import { Menu, nativeImage, Tray, type NativeImage } from 'electron';
import type { StoreApi } from 'zustand/vanilla';
import type { AppState } from '../../shared/schema/ipc.js';
import { TRAY_ICON_SIZES, trayIconPng } from '../core/tray-icons.js';
import { trayModel, type TrayAction, type TrayIcon } from '../core/tray-model.js';
import { toElectronMenu } from './menu-template.js';

export class TrayController {
  private tray: Tray | null = null;
  private lastRendered = '';
  private readonly icons = new Map<TrayIcon, NativeImage>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: StoreApi<AppState>,
    private readonly onAction: (a: TrayAction) => void,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  start(): void {
    const model = trayModel(this.store.getState());
    this.tray = new Tray(this.icon(model.icon));
    if (this.platform === 'win32') {
      this.tray.on('click', () => this.onAction({ type: 'open-window', view: 'home' }));
    }
    this.render(this.store.getState());
    this.unsubscribe = this.store.subscribe((s) => this.render(s));
  }

  stop(): void {
    this.unsubscribe?.();
    this.tray?.destroy();
    this.tray = null;
  }

  private render(s: AppState): void {
    const tray = this.tray;
    if (!tray) return;
    const model = trayModel(s);
    const key = JSON.stringify(model);
    if (key === this.lastRendered) return;
    this.lastRendered = key;
    tray.setImage(this.icon(model.icon));
    tray.setToolTip(model.tooltip);
    tray.setContextMenu(Menu.buildFromTemplate(toElectronMenu(model.menu, this.onAction)));
  }

  /** macOS gets template images (the menu bar tints them); others the color variant. */
  private icon(icon: TrayIcon): NativeImage {
    const cached = this.icons.get(icon);
    if (cached) return cached;
    const variant = this.platform === 'darwin' ? 'template' : 'color';
    const img = nativeImage.createEmpty();
    for (const size of TRAY_ICON_SIZES) {
      img.addRepresentation({
        scaleFactor: size / TRAY_ICON_SIZES[0],
        buffer: trayIconPng(icon, variant, size),
      });
    }
    if (variant === 'template') img.setTemplateImage(true);
    this.icons.set(icon, img);
    return img;
  }
}
