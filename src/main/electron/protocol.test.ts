import { describe, expect, it } from 'vitest';
import { linkFromArgv, MAX_LINK_LENGTH, parseTrellisLink } from './protocol.js';

describe('trellis:// links (pure; the Electron binary is not needed)', () => {
  it('maps the sign-in callback and view links to the view they show', () => {
    expect(parseTrellisLink('trellis://signin')).toEqual({ kind: 'show', view: 'sign-in' });
    expect(parseTrellisLink('trellis://signin/?state=done')).toEqual({
      kind: 'show',
      view: 'sign-in',
    });
    expect(parseTrellisLink('trellis:signin')).toEqual({ kind: 'show', view: 'sign-in' });
    expect(parseTrellisLink('trellis://open/peers')).toEqual({ kind: 'show', view: 'peers' });
    expect(parseTrellisLink('TRELLIS://open/exit-node')).toEqual({
      kind: 'show',
      view: 'exit-node',
    });
    expect(parseTrellisLink('trellis://open')).toEqual({ kind: 'show', view: 'home' });
  });

  it('ignores other schemes, unknown paths and views, and oversized input', () => {
    for (const bad of [
      'https://signin',
      'trellis://open/nowhere',
      'trellis://logout',
      'trellis://signin/extra',
      'trellis://open/peers/more',
      'not a url',
      '',
      `trellis://signin?${'x'.repeat(MAX_LINK_LENGTH)}`,
    ]) {
      expect(parseTrellisLink(bad), bad).toBeNull();
    }
  });

  it('finds the link among the arguments Windows and Linux start the app with', () => {
    expect(linkFromArgv(['/opt/Trellis/trellis-desktop', '--hidden'])).toBeNull();
    expect(
      linkFromArgv(['C:\\Trellis\\Trellis.exe', '--allow-file-access', 'trellis://open/routes']),
    ).toEqual({ kind: 'show', view: 'routes' });
    expect(linkFromArgv(['x', 'trellis://bogus', 'trellis://signin'])).toEqual({
      kind: 'show',
      view: 'sign-in',
    });
  });
});
