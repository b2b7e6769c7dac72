/**
 * The lab cleans up after itself however a run ends: a run that exits or is stopped by SIGTERM
 * or SIGINT removes its namespaces, the processes in them and its work directory before it dies;
 * a run killed by SIGKILL cannot, so the next run's createLab() does (cleanupStale); and cleanup
 * never touches a run that is still alive.
 *
 * Each case builds its lab in a child process (e2e/lab/lab-child.ts), since a run's exit is what
 * is under test.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../src/helper/exec.js';
import { cleanupStale, createLab, LAB_STATE_DIR, requireLabPrerequisites } from './lab/netns.js';
import { spawnOrchestrator, type LabProcess } from './lab/process.js';
import { LabChildReady } from './lab/script-output.js';

const LAB_CHILD = fileURLToPath(new URL('./lab/lab-child.ts', import.meta.url));
/** A killed process is reaped by init shortly after; poll this long before calling it alive. */
const REAP_WAIT_MS = 3_000;

const children: LabProcess[] = [];
afterEach(async () => {
  // SIGTERM runs the child's own teardown; a test that failed half-way leaves nothing behind.
  await Promise.all(children.splice(0).map((c) => c.stop()));
});

async function startLabChild(
  args: string[] = [],
): Promise<{ child: LabProcess; info: LabChildReady }> {
  requireLabPrerequisites(['nft']);
  const child = await spawnOrchestrator(LAB_CHILD, args, { label: 'lab-child' });
  children.push(child);
  const info = await child.waitForJson(LabChildReady);
  return { child, info };
}

async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const { stdout } = await runCommand('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`))
    .sort();
}

/** Running (a zombie waiting to be reaped counts as gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  const deadline = Date.now() + REAP_WAIT_MS;
  while (running(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Asserts nothing of the run is left: namespaces, its server, its state file, its work dir. */
async function expectNothingLeft(info: LabChildReady): Promise<void> {
  expect(await namespacesWithPrefix(info.prefix)).toEqual([]);
  expect(await gone(info.serverPid)).toBe(true);
  expect(existsSync(join(LAB_STATE_DIR, info.prefix))).toBe(false);
  expect(existsSync(info.workDir)).toBe(false);
}

/** Asserts the run is all there: every namespace, its server, state file and work dir. */
async function expectAllThere(info: LabChildReady): Promise<void> {
  expect(await namespacesWithPrefix(info.prefix)).toEqual([...info.namespaces].sort());
  expect(running(info.serverPid)).toBe(true);
  expect(existsSync(join(LAB_STATE_DIR, info.prefix))).toBe(true);
  expect(existsSync(join(info.workDir, 'marker'))).toBe(true);
}

describe('lab cleanup', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'a run stopped by %s removes everything before it dies',
    async (signal) => {
      const { child, info } = await startLabChild();
      // internet, service, router, device
      expect(info.namespaces).toHaveLength(4);
      await expectAllThere(info);
      child.kill(signal);
      const exit = await child.exited;
      // The hook re-raises the signal, so the run still reports how it ended.
      expect(exit.signal).toBe(signal);
      await expectNothingLeft(info);
    },
  );

  it('a run that exits normally removes everything', async () => {
    const { child, info } = await startLabChild(['--exit']);
    const exit = await child.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    await expectNothingLeft(info);
  });

  it("a run killed by SIGKILL leaves namespaces that the next run's createLab() removes", async () => {
    const { child, info } = await startLabChild();
    child.kill('SIGKILL');
    await child.exited;
    // No hook ran: the namespaces, the server inside one and the work dir outlive the run.
    await expectAllThere(info);
    const next = createLab();
    try {
      await expectNothingLeft(info);
    } finally {
      await next.dispose();
    }
  });

  it("cleanup leaves a live run's namespaces alone", async () => {
    const { child, info } = await startLabChild();
    const removed = cleanupStale();
    for (const ns of removed.namespaces) expect(ns.startsWith(info.prefix)).toBe(false);
    expect(removed.workDirs).not.toContain(info.workDir);
    const other = createLab();
    await other.dispose();
    await expectAllThere(info);
    child.kill('SIGTERM');
    await child.exited;
    await expectNothingLeft(info);
  });
});
