import { describe, expect, it } from 'vitest';
import { sampleAppState } from '../../shared/schema/samples.js';
import { trayModel, type TrayAction } from '../core/tray-model.js';
import { toElectronMenu } from './menu-template.js';

describe('toElectronMenu (Electron types only; the binary is not needed)', () => {
  it('renders every tray item kind and routes clicks to their actions', () => {
    const clicked: TrayAction[] = [];
    const menu = toElectronMenu(trayModel(sampleAppState()).menu, (a) => clicked.push(a));
    expect(menu[0]).toEqual({ label: 'Connected', enabled: false });
    const exit = menu.find((m) => m.label === 'Exit node');
    const sub = exit?.submenu;
    if (!Array.isArray(sub)) throw new Error('exit node submenu missing');
    expect(sub.map((m) => m.type ?? 'normal')).toEqual([
      'radio',
      'radio',
      'separator',
      'radio',
      'separator',
      'checkbox',
    ]);
    expect(sub[0]).toMatchObject({ label: 'None', checked: true });
    const device = menu.find((m) => m.label?.startsWith('This device'));
    device?.click?.({} as never, undefined, {} as never);
    sub[1]?.click?.({} as never, undefined, {} as never);
    expect(clicked).toEqual([
      { type: 'copy', text: '100.64.0.1' },
      { type: 'set-exit-node', selector: { type: 'auto' } },
    ]);
    expect(menu.filter((m) => m.type === 'separator').length).toBeGreaterThan(1);
  });
});
