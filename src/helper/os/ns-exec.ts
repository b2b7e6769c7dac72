/**
 * Runs a program in the configurator's network namespace: directly when there is none, else via
 * `ip netns exec` (nft, sysctl and resolvectl have no namespace option of their own, unlike
 * `ip -n`). Namespace names are validated by the configurator before they get here.
 */
import type { Exec, ExecOptions, ExecResult } from '../exec.js';

export function nsExec(
  exec: Exec,
  netns: string | undefined,
  command: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  if (netns === undefined) return exec(command, args, options);
  return exec('ip', ['netns', 'exec', netns, command, ...args], options);
}
