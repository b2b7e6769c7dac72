/** A ShellDelegate that records what the core asked of the window system. Test-only. */
import type { View } from '../../../shared/schema/ipc.js';
import type { ShellDelegate } from '../shell.js';

export class FakeShell implements ShellDelegate {
  readonly platform = 'web' as const;
  readonly appVersion = '0.1.0';
  readonly log: string[] = [];
  copyText(text: string): void {
    this.log.push(`copy ${text}`);
  }
  openExternal(url: string): void {
    this.log.push(`open ${url}`);
  }
  showWindow(view: View): void {
    this.log.push(`show ${view}`);
  }
  showAbout(): void {
    this.log.push('about');
  }
  quit(): void {
    this.log.push('quit');
  }
  reportError(message: string): void {
    this.log.push(`error ${message}`);
  }
}
