import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startHeapTrim } from '../../runtime/heap-trim.js';
import { waitFor } from '../support/wait-for.js';

const MODULE = fileURLToPath(new URL('../../dist/runtime/heap-trim.js', import.meta.url));

describe('heap trim', () => {
  it('asks V8 for a major collection, run as a task of its own, every interval until stopped', async () => {
    const calls: unknown[] = [];
    const stop = startHeapTrim({ intervalMs: 5, gc: (o) => calls.push(o) });
    await waitFor(() => calls.length >= 2, 'two collections');
    stop();
    const n = calls.length;
    expect(calls[0]).toEqual({ type: 'major', execution: 'async' });
    // Stopped: a tick that was due fires no more (checked after a later timer of the same length).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls.length).toBe(n);
  });

  it('runs the first collection soon after start (the start-up garbage), then once an interval', async () => {
    const calls: unknown[] = [];
    const stop = startHeapTrim({ intervalMs: 60_000, firstMs: 5, gc: (o) => calls.push(o) });
    await waitFor(() => calls.length === 1, 'the first collection');
    stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(calls.length).toBe(1);
  });

  it('does nothing where V8 exposes no gc, and never keeps a process alive', async () => {
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
    startHeapTrim()(); // no timer, nothing to stop
    // With --expose-gc and a timer running, the process still ends when it has nothing else to do.
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', `const { startHeapTrim } = await import(${JSON.stringify(MODULE)}); startHeapTrim({ intervalMs: 10 }); setTimeout(() => console.log('done'), 50);`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect([code, out.trim()]).toEqual([0, 'done']);
  });
});
