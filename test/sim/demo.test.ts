import { describe, expect, it } from 'vitest';
import { runCli } from '../support/gateway-process.js';

describe('edgewise demo (the README\'s first command)', () => {
  it('runs a broker, a gateway and a subscriber, prints the records that arrive, and stops cleanly', async () => {
    const { code, stdout, stderr } = await runCli(['demo', '--duration', '2', '--rate', '20'], 30_000);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^demo: broker mqtt:\/\/127\.0\.0\.1:\d+, gateway demo-gw storing in /m);
    expect(stdout).toMatch(/demo-gw {2}press-1 {2}#0 {2}vibration=-?\d+\.\d{3} temperature=\d+\.\d{3}/);
    const received = Number(/demo: stopped; (\d+) records received/.exec(stdout)?.[1]);
    expect(received).toBeGreaterThanOrEqual(20);
  });

  it('refuses a bad rate with exit code 2', async () => {
    const { code, stderr } = await runCli(['demo', '--rate', 'fast']);
    expect(code).toBe(2);
    expect(stderr).toContain('--rate: expected a number');
  });
});
