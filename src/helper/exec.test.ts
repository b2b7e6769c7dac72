import { describe, expect, it } from 'vitest';
import { ExecError, PROCESS_OUTPUT_TAIL_BYTES, runCommand, startProcess } from './exec.js';

async function rejection(p: Promise<unknown>): Promise<ExecError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ExecError) return e;
    throw e;
  }
  throw new Error('expected the command to fail');
}

describe('runCommand', () => {
  it('returns stdout and stderr of a successful run', async () => {
    const r = await runCommand('sh', ['-c', 'printf out; printf err >&2']);
    expect(r).toEqual({ stdout: 'out', stderr: 'err' });
  });

  it('passes arguments literally, with no shell in between', async () => {
    const hostile = '$(touch /tmp/never); `id` | cat > /dev/null && echo "x"';
    const r = await runCommand('printf', ['%s', hostile]);
    expect(r.stdout).toBe(hostile);
  });

  it('feeds input on stdin', async () => {
    const r = await runCommand('cat', [], { input: 'secret-key\n' });
    expect(r.stdout).toBe('secret-key\n');
  });

  it('reports a non-zero exit with the command, the status and stderr', async () => {
    const e = await rejection(runCommand('sh', ['-c', 'echo "Cannot find device" >&2; exit 3']));
    expect(e.reason).toBe('exit_status');
    expect(e.command).toBe('sh');
    expect(e.exitCode).toBe(3);
    expect(e.stderr).toContain('Cannot find device');
    expect(e.message).toContain('exited with status 3');
  });

  it('reports a missing program as spawn_failed with ENOENT', async () => {
    const e = await rejection(runCommand('/nonexistent/trellis-tool', ['x']));
    expect(e.reason).toBe('spawn_failed');
    expect(e.errno).toBe('ENOENT');
  });

  it('kills a program that runs past its timeout', async () => {
    const started = Date.now();
    const e = await rejection(runCommand('sleep', ['5'], { timeoutMs: 100 }));
    expect(e.reason).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('kills a program whose output passes the cap', async () => {
    const e = await rejection(
      runCommand('head', ['-c', '1000000', '/dev/zero'], { maxOutputBytes: 1000 }),
    );
    expect(e.reason).toBe('output_too_large');
  });
});

describe('startProcess', () => {
  it('owns a long-running process: pid, bounded output tail, kill and exit status', async () => {
    const p = await startProcess('sh', [
      '-c',
      'head -c 20000 /dev/zero | tr "\\0" a; echo END; sleep 30',
    ]);
    expect(p.pid).toBeGreaterThan(0);
    // Wait for the output to arrive.
    for (let i = 0; i < 100 && !p.outputTail().includes('END'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(p.outputTail()).toContain('END');
    expect(Buffer.byteLength(p.outputTail())).toBeLessThanOrEqual(PROCESS_OUTPUT_TAIL_BYTES);
    expect(p.hasExited()).toBe(false);
    p.kill('SIGTERM');
    const exit = await p.exited;
    expect(exit.signal).toBe('SIGTERM');
    expect(p.hasExited()).toBe(true);
  });

  it('rejects when the program does not exist', async () => {
    const e = await rejection(startProcess('/nonexistent/wireguard-go', ['-f', 'x']));
    expect(e.reason).toBe('spawn_failed');
  });
});
