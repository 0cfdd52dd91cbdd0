import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set in the child a bench re-ran itself as, so it does not re-run again. */
const APPLIED = 'EDGEWISE_BENCH_GATEWAY_FLAGS';

/** The V8 flags `bin/edgewise` starts a gateway with (bin/gateway-node-flags), found from this file in test/ or dist/test/. */
export function gatewayNodeFlags(): string[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1) {
    try {
      return readFileSync(join(dir, 'bin', 'gateway-node-flags'), 'utf8').trim().split(/\s+/);
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('cannot find bin/gateway-node-flags above the bench');
}

/**
 * A bench of gateway parts measures them under the flags a gateway runs with (its young
 * generation, GC and compiler threads change both CPU and memory): unless `--plain-node` was
 * given or this already is that process, it runs the same command again under those flags and
 * exits with its status. Returns only in the process that should run the bench.
 */
export function underGatewayFlags(args: readonly string[]): void {
  if (args.includes('--plain-node') || process.env[APPLIED] === '1') return;
  const r = spawnSync(process.execPath, [...gatewayNodeFlags(), ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, [APPLIED]: '1' } });
  process.exit(r.status ?? 1);
}
