import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';

/**
 * `edgewise opcua browse URL`: list a server's nodes with their types, to write the opcua
 * source's config (devices/opcua/README.md). node-opcua is loaded only when the command runs.
 * Exit codes: 0 done, 2 bad input (an option, a node id the server does not have), 1 anything
 * else (unreachable, certificate refused, access denied).
 */
export interface OpcuaBrowseCommandOptions {
  readonly node?: string;
  readonly depth: number;
  readonly maxNodes: number;
  readonly security: string;
  readonly policy: string;
  readonly pki?: string;
  readonly user?: string;
  readonly passwordFile?: string;
  readonly timeoutMs: number;
  readonly applicationName?: string;
  readonly yaml: boolean;
  readonly verbose: boolean;
}

export interface CommandOutput {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/** The client's PKI folder when --pki is not given: ~/.config/edgewise/opcua-pki (or under $XDG_CONFIG_HOME). */
export function defaultPkiDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] !== undefined && env['XDG_CONFIG_HOME'] !== '' ? env['XDG_CONFIG_HOME'] : join(homedir(), '.config');
  return join(base, 'edgewise', 'opcua-pki');
}

export function registerOpcuaCommands(program: Command, commander: typeof import('commander'), exit: (code: number) => void): void {
  const opcua = program.command('opcua').description('OPC UA helpers for writing an opcua source\'s config.').exitOverride();
  const int = (min: number) => (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new commander.InvalidArgumentError(`expected a whole number >= ${min}, got "${v}"`);
    return n;
  };
  opcua
    .command('browse')
    .description('Browse a server from its Objects folder (or --node): a tree of objects and variables with data type, value rank, access level and engineering units; with --yaml, the items of a subscription for the config, one per readable numeric scalar variable.')
    .argument('<url>', 'the server endpoint, e.g. opc.tcp://plc1.plant:4840')
    .option('--node <id>', "start here instead of the Objects folder: ns=2;s=Line1, ns=3;i=1001, i=85, nsu=<namespace URI>;s=Name")
    .option('--depth <n>', 'levels of references followed below the start node', int(1), 3)
    .option('--max-nodes <n>', 'stop after listing this many nodes', int(1), 2000)
    .option('--security <mode>', 'None, Sign or SignAndEncrypt', 'None')
    .option('--policy <policy>', 'security policy with Sign/SignAndEncrypt: Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss', 'Basic256Sha256')
    .option('--pki <dir>', "the client's certificate folder (own certificate, trusted/, rejected/), made on first use (default ~/.config/edgewise/opcua-pki); with a source's pkiDir and --application-name, a server trusted here is trusted by the gateway too")
    .option('--user <name>', 'user name (with --password-file); anonymous without it')
    .option('--password-file <file>', "a file whose first line is the user's password")
    .option('--timeout-ms <ms>', 'for the connection and each request', int(1), 10_000)
    .option('--application-name <name>', "the client's application name, from which its certificate's application URI is made when the certificate is created; to share a gateway source's pkiDir give that source's name, edgewise-<source id> (default edgewise-browse)")
    .option('--yaml', 'print the items snippet for the config instead of the tree', false)
    .option('--verbose', "also print node-opcua's own warnings and errors on stderr", false)
    .exitOverride()
    .action(async (url: string, o: OpcuaBrowseCommandOptions) => {
      const code = await runOpcuaBrowse(url, o, { stdout: process.stdout, stderr: process.stderr });
      exit(code);
      // node-opcua can leave a timer running after a failed connect (measured: the process stayed
      // 12 s after its error line). Everything is printed by now (stdout and stderr are synchronous
      // on files and pipes): leave at most 1 s later. unref: a clean run exits at once.
      setTimeout(() => process.exit(code), 1000).unref();
    });
}

/** Runs a browse and prints it; returns the exit code. Errors go to stderr as one `error: ...` line. */
export async function runOpcuaBrowse(url: string, o: OpcuaBrowseCommandOptions, out: CommandOutput): Promise<number> {
  const fail = (code: number, message: string): number => {
    out.stderr.write(`error: ${message}\n`);
    return code;
  };
  if (!/^opc\.tcp:\/\/[^/:]+(:\d+)?(\/.*)?$/.test(url)) return fail(2, `URL: expected opc.tcp://host:port, got "${url}"`);
  // node-opcua reads its log level once, when it loads: without --verbose only our own error line is printed
  // (not its start-up note about RSA PKCS#1 v1.5 on Node 20, which concerns policies we do not offer).
  if (!o.verbose) process.env['NODEOPCUA_LOG_LEVEL'] ??= '1';
  const { browseOpcua, readPasswordFile, OpcuaBrowseError, SECURITY_MODES, SECURITY_POLICIES, BROWSE_DEFAULTS } = await import('../devices/opcua/browse.js');
  if (o.verbose) {
    // node-opcua logs to stdout by default, which would mix with the tree or the YAML.
    const { setWarningLogger, setErrorLogger } = await import('node-opcua-client');
    // Its first argument is a context object; the text follows.
    const toStderr = (...args: unknown[]): void => void out.stderr.write(`${args.filter((a) => typeof a !== 'object' || a === null || a instanceof Error).map(String).join(' ')}\n`);
    setWarningLogger(toStderr);
    setErrorLogger(toStderr);
  }
  const security = SECURITY_MODES.find((m) => m === o.security);
  if (security === undefined) return fail(2, `--security: expected ${SECURITY_MODES.join(', ')}, got "${o.security}"`);
  const policy = SECURITY_POLICIES.find((p) => p === o.policy);
  if (policy === undefined) return fail(2, `--policy: expected ${SECURITY_POLICIES.join(', ')}, got "${o.policy}"`);
  if ((o.user === undefined) !== (o.passwordFile === undefined)) return fail(2, '--user and --password-file go together');
  try {
    const tree = await browseOpcua({
      url,
      ...(o.node === undefined ? {} : { node: o.node }),
      depth: o.depth,
      maxNodes: o.maxNodes,
      security,
      policy,
      pkiDir: o.pki ?? defaultPkiDir(),
      ...(o.user === undefined || o.passwordFile === undefined ? {} : { user: { name: o.user, password: readPasswordFile(o.passwordFile) } }),
      timeoutMs: o.timeoutMs,
      applicationName: o.applicationName ?? BROWSE_DEFAULTS.applicationName,
    });
    const { formatTree, itemsYaml } = await import('../devices/opcua/browse-output.js');
    out.stdout.write(o.yaml ? itemsYaml(tree) : `${formatTree(tree, o.depth).join('\n')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof OpcuaBrowseError) return fail(err.exitCode, `${err.message} [${err.code}]`);
    return fail(1, `opcua browse ${url}: ${(err as Error).message}`);
  }
}
