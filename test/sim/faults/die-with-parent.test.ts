import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { dieWithParent } from '../../../sim/faults/die-with-parent.js';
import { waitFor } from '../../support/wait-for.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('dieWithParent', () => {
  it('takes a simulator\'s socat and gateway processes down with it when it is killed with kill -9', async () => {
    const [cmd, args] = dieWithParent('sleep', ['300']);
    // A stand-in simulator: starts the child as the runner does, says its pid, then waits to be killed.
    const script = `const { spawn } = require('node:child_process'); const c = spawn(${JSON.stringify(cmd)}, ${JSON.stringify(args)}, { stdio: 'ignore' }); c.once('spawn', () => console.log(c.pid)); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(parent.stdout, 'data')) as [Buffer];
    const child = Number(chunk.toString().trim());
    expect(alive(child)).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(() => !alive(child), `the child ${child} gone after its parent's kill -9`, 10_000, 20);
  });

  it('runs the command itself: its pid is the command\'s, so kill -9 and /proc reach the real process', async () => {
    const [cmd, args] = dieWithParent('sleep', ['300']);
    const c = spawn(cmd, args, { stdio: 'ignore' });
    await once(c, 'spawn');
    await waitFor(async () => (await import('node:fs/promises')).readFile(`/proc/${c.pid}/comm`, 'utf8').then((s) => s.trim() === 'sleep'), 'setpriv exec-ed sleep', 5000, 10);
    c.kill('SIGKILL');
    await once(c, 'exit');
  });
});
