/**
 * The tray model's menu as Electron menu templates. Only Electron's types are imported, so this
 * mapping is unit-tested without the Electron binary; the adapter passes the result straight to
 * Menu.buildFromTemplate.
 */
import type { MenuItemConstructorOptions } from 'electron';
import type { TrayAction, TrayMenuItem } from '../core/tray-model.js';

export function toElectronMenu(
  items: readonly TrayMenuItem[],
  onAction: (a: TrayAction) => void,
): MenuItemConstructorOptions[] {
  return items.map((i): MenuItemConstructorOptions => {
    switch (i.kind) {
      case 'separator':
        return { type: 'separator' };
      case 'label':
        return { label: i.label, enabled: false };
      case 'action':
        return { label: i.label, enabled: i.enabled, click: () => onAction(i.action) };
      case 'checkbox':
      case 'radio':
        return {
          type: i.kind,
          label: i.label,
          checked: i.checked,
          enabled: i.enabled,
          click: () => onAction(i.action),
        };
      case 'submenu':
        return { label: i.label, submenu: toElectronMenu(i.items, onAction) };
    }
  });
}
