import { ConfigError, EdgewiseError } from '../errors.js';
import { printable } from '../config/text-check.js';
import { install, type InstallOptions } from '../install/install.js';
import { uninstall, type UninstallOptions } from '../install/uninstall.js';

/** Exit codes as `gateway`'s: 0 done, 1 a step failed, 2 bad usage or a config that fails --check. */
const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function progress(command: string): (line: string) => void {
  return (line) => process.stdout.write(`edgewise ${command}: ${printable(line)}\n`);
}

function fail(command: string, err: unknown): number {
  const safe = (m: string): string => m.split('\n').map(printable).join('\n');
  if (err instanceof ConfigError) {
    process.stderr.write(`edgewise ${command}: config ${safe(err.message)}\nnothing was installed: fix the config (edgewise gateway --config FILE --check) and run it again\n`);
    return EXIT_USAGE;
  }
  if (err instanceof EdgewiseError) {
    process.stderr.write(`edgewise ${command}: ${safe(err.message)}\n`);
    return err.code === 'E_INSTALL_STEP' ? EXIT_FAILURE : EXIT_USAGE;
  }
  const e = err as NodeJS.ErrnoException;
  process.stderr.write(`edgewise ${command}: ${safe(e.message)}\n`);
  return EXIT_FAILURE;
}

export async function runInstall(options: InstallOptions): Promise<number> {
  try {
    const m = await install(options, progress('install'));
    process.stdout.write(`edgewise install: done: edgewise ${m.version} installed\n`);
    return EXIT_OK;
  } catch (err) {
    return fail('install', err);
  }
}

export async function runUninstall(options: UninstallOptions): Promise<number> {
  try {
    await uninstall(options, progress('uninstall'));
    process.stdout.write('edgewise uninstall: done\n');
    return EXIT_OK;
  } catch (err) {
    return fail('uninstall', err);
  }
}
