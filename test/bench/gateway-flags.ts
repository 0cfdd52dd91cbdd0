import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set in the child a bench re-ran itself as, so it does not re-run again. */
const APPLIED = 'EDGEWISE_BENCH_GATEWAY_FLAGS';

/** A one-line file of bin/, found from this file in test/ or dist/test/, split at spaces. */
function binWords(name: string): string[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1) {
    try {
      return readFileSync(join(dir, 'bin', name), 'utf8').trim().split(/\s+/);
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error(`cannot find bin/${name} above the bench`);
}

/** The V8 flags `bin/edgewise` starts a gateway with (bin/gateway-node-flags). */
export function gatewayNodeFlags(): string[] {
  return binWords('gateway-node-flags');
}

/** The environment `bin/edgewise` starts a gateway with (bin/gateway-env: glibc malloc settings). */
export function gatewayNodeEnv(): Record<string, string> {
  return Object.fromEntries(binWords('gateway-env').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/**
 * A bench of gateway parts measures them under the flags (and malloc settings) a gateway runs with (its young
 * generation, GC and compiler threads change both CPU and memory): unless `--plain-node` was
 * given or this already is that process, it runs the same command again under those flags and
 * exits with its status. Returns only in the process that should run the bench.
 */
export function underGatewayFlags(args: readonly string[]): void {
  if (args.includes('--plain-node') || process.env[APPLIED] === '1') return;
  const r = spawnSync(process.execPath, [...gatewayNodeFlags(), ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...gatewayNodeEnv(), [APPLIED]: '1' } });
  process.exit(r.status ?? 1);
}
