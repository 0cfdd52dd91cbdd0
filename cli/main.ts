#!/usr/bin/env node
import type { Command } from 'commander';
import type { GatewayCommandOptions } from '../runtime/cli/gateway-command.js';
import { requireOnce } from '../runtime/require-once.js';
import { RUNTIME_VERSION } from '../runtime/version.js';
import { SIM_MCU_HELP } from '../sim/mcu/help.js';
import { registerModelCommands } from './model-command.js';
import { registerModbusCommands } from './modbus-command.js';
import { registerOpcuaCommands } from './opcua-command.js';

/**
 * `edgewise`: one binary, one subcommand per part of the system. Each subcommand's code
 * lives in its own folder and is loaded only when asked for, so `edgewise gateway` never
 * loads the fleet or the simulator.
 *
 * The command line is read in one function with commander required for that one use
 * (runtime/require-once.ts), and `gateway` runs only after it returned: a gateway runs for
 * months, and commander and the command tree are then garbage (about 0.7 MB of an idle
 * gateway's heap; README, Benchmarks). Every other subcommand runs inside the parse.
 *
 * The gateway's code (runtime/cli/gateway-command.ts and all it imports) is loaded only to run
 * `gateway`: a static import made every subcommand pay for it, and `edgewise tuf-client`,
 * which the TUF conformance suite starts hundreds of times, spent about 0.4 s of CPU
 * of its 0.7 s loading a gateway it never ran.
 */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

async function parseCommandLine(argv: readonly string[]): Promise<{ readonly exitCode: number } | { readonly gateway: GatewayCommandOptions }> {
  const commander = requireOnce<typeof import('commander')>('commander');
  let gateway: GatewayCommandOptions | undefined;
  const program = new commander.Command()
    .name('edgewise')
    .description('Edge runtime for factory gateways: sensors and cameras in, models on the box, every result kept until the fleet has it.')
    .version(RUNTIME_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  let exitCode = 0;

  program
    .command('gateway')
    .description('Run a gateway from its YAML config (or only check the config).')
    .requiredOption('-c, --config <file>', 'the gateway config file (YAML)')
    .option('--check', 'validate the config and the files it names, then exit (0 ok, 2 problems)', false)
    .exitOverride()
    .action((opts: { config: string; check: boolean }) => {
      // Run after the parse: nothing here may hold on to the command tree.
      gateway = { config: opts.config, check: opts.check };
    });

  program
    .command('demo')
    .description('Run a demo on this machine: an embedded MQTT broker, a gateway with a synthetic source, and a subscriber printing what arrives.')
    .option('--rate <hz>', 'synthetic samples per second', '5')
    .option('--data-dir <dir>', 'where the demo gateway keeps its LevelDB (default: a temp dir)')
    .option('--duration <s>', 'stop after this many seconds (default: run until Ctrl-C)')
    .exitOverride()
    .action(async (opts: { rate: string; dataDir?: string; duration?: string }) => {
      const { runDemo } = await import('../sim/demo.js');
      exitCode = await runDemo(opts);
    });

  const keys = program.command('keys').description('Signing keys for the TUF repository of model releases.').exitOverride();
  keys
    .command('generate')
    .description('A new Ed25519 key for a TUF role: the private key is written 0600 (refused if the filesystem would make it readable by others), the public key beside it.')
    .requiredOption('--role <role>', 'root, targets, snapshot or timestamp, or a delegated role\'s name (federated-<task>)')
    .requiredOption('--out <dir>', 'where to write the key files')
    .exitOverride()
    .action(async (opts: { role: string; out: string }) => {
      const { runKeysGenerate } = await import('../fleet/repo/keys-command.js');
      exitCode = await runKeysGenerate(opts);
    });

  const repo = program.command('repo').description('The TUF repository of model releases (fleet side): init, add-model, delegate, sign, rotate, publish, serve.').exitOverride();
  const many = (v: string, all: string[]): string[] => [...all, v];
  const repoCmd = (name: string, description: string): Command => repo.command(name).description(description).requiredOption('--repo <dir>', 'the repository directory').exitOverride();
  repoCmd('init', 'Stage root v1 and an empty targets v1 from the public keys in a directory (written by `keys generate`).')
    .requiredOption('--keys <dir>', 'directory with <role>-<id>.pub.json files')
    .option('--threshold <role=n>', 'signatures a role needs (repeatable); default 1', many, [] as string[])
    .action(async (o: { repo: string; keys: string; threshold: string[] }) => {
      exitCode = await (await import('../fleet/repo/repo-command.js')).repoInit(o);
    });
  repoCmd('add-model', 'Stage a model release: the ONNX file, its golden input and output, and the fields the updater checks.')
    .requiredOption('--model <file>', 'the ONNX file')
    .requiredOption('--golden-input <file>', 'float32 little-endian input')
    .requiredOption('--golden-output <file>', 'float32 little-endian expected output')
    .requiredOption('--name <model>', 'model name')
    .requiredOption('--release <n>', 'release counter (higher than every earlier release of this model)')
    .requiredOption('--model-version <v>', 'version for people')
    .option('--arch <list>', 'x64,arm64,arm', 'x64,arm64')
    .option('--accelerators <list>', 'execution providers, one of which is needed', 'cpu')
    .option('--min-runtime <semver>', 'oldest edgewise runtime', '0.1.0')
    .requiredOption('--input-name <name>', 'model input for the golden run')
    .requiredOption('--dims <list>', 'golden input dims, e.g. 1,96')
    .requiredOption('--output-name <name>', 'model output compared with the golden output')
    .option('--tolerance <x>', 'largest absolute difference per value', '0.0001')
    .option('--latency-ms <n>', 'latency budget', '100')
    .option('--error-rate-ppm <n>', 'failed runs allowed in probation, per million', '1000')
    .option('--probation-s <n>', 'probation after activation', '600')
    .option('--signed-by <role>', 'sign the release with this delegated role (its metadata is written at once; publish lists it) instead of staging it in the top-level targets')
    .option('--role-key <file>', 'private key of the --signed-by role (repeatable)', many, [] as string[])
    .option('--evaluation-set <file>', 'a labelled evaluation set (edgewise-evaluation CBOR, fleet/protocol/evaluation-set.ts): anomaly-windows (sensor windows labelled 0/1, scored by ROC AUC) or vision-frames (camera frames with labelled boxes, scored by detection F1 at IoU 0.5); checked here, and in a rollout with quality gates the release must then be no worse on it than the model it replaces')
    .action(async (o: import('../fleet/repo/repo-command.js').AddModelOptions) => {
      exitCode = await (await import('../fleet/repo/repo-command.js')).repoAddModel(o);
    });
  repoCmd('delegate', 'Stage a delegation in the top-level targets (added, or replacing one of the same role): a role that may sign only the given models\' releases, terminating; then sign targets and publish.')
    .requiredOption('--role <name>', 'the delegated role, e.g. federated-<task>')
    .requiredOption('--key <pub.json>', 'the role\'s public key (repeatable)', many, [] as string[])
    .option('--threshold <n>', 'signatures the role needs', '1')
    .requiredOption('--paths <pattern>', 'models/<model>/*/* (repeatable; one per model)', many, [] as string[])
    .action(async (o: { repo: string; role: string; key: string[]; threshold: string; paths: string[] }) => {
      exitCode = await (await import('../fleet/repo/repo-command.js')).repoDelegate(o);
    });
  repoCmd('sign', 'Add signatures to the staged root or targets (several people can sign in turn).')
    .requiredOption('--role <role>', 'root or targets')
    .requiredOption('--key <file>', 'private key file (repeatable)', many, [] as string[])
    .action(async (o: { repo: string; role: string; key: string[] }) => {
      exitCode = await (await import('../fleet/repo/repo-command.js')).repoSign(o);
    });
  repoCmd('rotate', "Stage a new root that changes a role's keys; sign it with the current and the new root keys.")
    .requiredOption('--role <role>', 'root, targets, snapshot or timestamp')
    .option('--add <pub.json>', 'public key to add (repeatable)', many, [] as string[])
    .option('--remove <keyid>', 'key id to remove (repeatable)', many, [] as string[])
    .option('--threshold <n>', 'new threshold')
    .action(async (o: { repo: string; role: string; add: string[]; remove: string[]; threshold?: string }) => {
      exitCode = await (await import('../fleet/repo/repo-command.js')).repoRotate(o);
    });
  repoCmd('publish', 'Publish what is staged (thresholds checked) with a new snapshot and timestamp; with nothing staged, refresh them (run before the timestamp expires).')
    .requiredOption('--snapshot-key <file>', 'snapshot private key (repeatable)', many, [] as string[])
    .requiredOption('--timestamp-key <file>', 'timestamp private key (repeatable)', many, [] as string[])
    .action(async (o: { repo: string; snapshotKey: string[]; timestampKey: string[] }) => {
      exitCode = await (await import('../fleet/repo/repo-command.js')).repoPublish(o);
    });
  repoCmd('serve', 'Serve the repository over HTTP (metadata and targets, with byte ranges) until Ctrl-C.')
    .requiredOption('--http <host:port>', 'where to listen, e.g. 127.0.0.1:8080')
    .action(async (o: { repo: string; http: string }) => {
      exitCode = await (await import('../fleet/repo/repo-command.js')).repoServe(o);
    });

  const fleet = program.command('fleet').description('The fleet service: registry of gateways, broker with per-gateway credentials and ACL, ingest, HTTP API.').exitOverride();
  const fleetData = (c: Command): Command =>
    c
      .requiredOption('--data <dir>', 'the fleet data directory')
      .option('--db <db>', 'embedded (PGlite under the data directory) or a postgres:// URL', 'embedded')
      .exitOverride();
  fleetData(fleet.command('serve', { isDefault: true }).description('Run the fleet service until Ctrl-C (the default: `edgewise fleet --data DIR`).'))
    .option('--broker <broker>', 'embedded, or an mqtt(s):// URL of an external broker', 'embedded')
    .option('--http <host:port>', 'where the HTTP API listens', '0.0.0.0:8080')
    .option('--mqtt <host:port>', 'where the embedded broker listens', '0.0.0.0:1883')
    .option('--mqtt-tls <port>', 'also listen with TLS on this port (needs --tls-key and --tls-cert)')
    .option('--tls-key <file>', 'PEM private key of the TLS listener')
    .option('--tls-cert <file>', 'PEM certificate of the TLS listener')
    .option('--tls-ca <file>', 'PEM CA: require client certificates signed by it')
    .option('--public-broker-url <url>', 'the broker URL written into gateway configs (default: from the listener)')
    .option('--repo <dir>', 'the TUF repository of model releases (default: DATA/repo)')
    .option('--repo-url <url>', 'where gateways fetch that repository (edgewise repo serve), for their updates section')
    .option('--repo-online-keys <dir>', "the repository's online snapshot and timestamp keys (snapshot-*.key, timestamp-*.key): with them the fleet releases each federated round's model, signed by the task's delegated role")
    .option('--retention-days <n>', 'keep alerts and events this many days', '90')
    .option('--max-events <n>', 'and at most this many', '1000000')
    .option('--metrics-retention-hours <n>', "keep gateways' metrics samples (for the console's charts) this many hours", '24')
    .option('--metrics-interval-s <n>', "sample each gateway's health report for the console's charts at most this often (at most 1,500 samples are kept per gateway)", '60')
    .option('--log-level <level>', 'debug, info, warn, error', 'info')
    .action(async (o: import('../fleet/service/fleet-command.js').FleetServeOptions) => {
      exitCode = await (await import('../fleet/service/fleet-command.js')).runFleetServe(o);
    });
  fleetData(fleet.command('provision').description("A gateway's identity and MQTT credentials: writes a folder for the gateway (config section, password file, TUF root) and prints the config section."))
    .requiredOption('--id <gw>', 'the gateway id (also its MQTT username)')
    .option('--labels <k=v,...>', 'labels, e.g. site=plant-2,line=press')
    .option('--site <site>', 'the site (default: the site label)')
    .option('--replace', 'provision a known gateway again: new credentials, revocation lifted', false)
    .option('--out <dir>', 'where to write the gateway folder (default: provision-<id>)')
    .option('--gateway-config-dir <dir>', 'where that folder goes on the gateway', '/etc/edgewise')
    .option('--token-file <file>', 'operator token for a running fleet (default: DATA/operator-token)')
    .option('--repo <dir>', 'the TUF repository (default: DATA/repo)')
    .action(async (o: import('../fleet/service/fleet-command.js').ProvisionCommandOptions) => {
      exitCode = await (await import('../fleet/service/fleet-command.js')).runFleetProvision(o);
    });
  fleetData(fleet.command('revoke').description('Revoke a gateway: it can no longer connect, publish or subscribe; its live session is dropped.'))
    .argument('<gw>', 'the gateway id')
    .option('--token-file <file>', 'operator token for a running fleet (default: DATA/operator-token)')
    .action(async (gw: string, o: import('../fleet/service/fleet-command.js').AccessCommandOptions) => {
      exitCode = await (await import('../fleet/service/fleet-command.js')).runFleetRevoke(gw, o);
    });
  fleetData(fleet.command('acl').description('Write the password and ACL files for an external broker from the registry.'))
    .option('--format <format>', 'mosquitto', 'mosquitto')
    .requiredOption('--out <dir>', 'where to write them')
    .option('--token-file <file>', 'operator token for a running fleet (default: DATA/operator-token)')
    .action(async (o: import('../fleet/service/fleet-command.js').AclCommandOptions) => {
      exitCode = await (await import('../fleet/service/fleet-command.js')).runFleetAcl(o);
    });

  const token = fleet.command('token').description('Operator tokens for the fleet API: create (printed once), list, revoke.').exitOverride();
  fleetData(token.command('create').description('A new token, printed once on stdout.'))
    .option('--role <role>', 'read-only or read-write', 'read-only')
    .requiredOption('--name <name>', 'who holds it (a person, a dashboard)')
    .option('--token-file <file>', 'operator token for a running fleet (default: DATA/operator-token)')
    .action(async (o: import('../fleet/service/fleet-command.js').TokenCommandOptions) => {
      exitCode = await (await import('../fleet/service/fleet-command.js')).runFleetToken('create', undefined, o);
    });
  fleetData(token.command('list').description('Every token: id, role, live or revoked, name (never the secret).'))
    .option('--token-file <file>', 'operator token for a running fleet (default: DATA/operator-token)')
    .action(async (o: import('../fleet/service/fleet-command.js').TokenCommandOptions) => {
      exitCode = await (await import('../fleet/service/fleet-command.js')).runFleetToken('list', undefined, o);
    });
  fleetData(token.command('revoke').description('Revoke a token: it stops working at once.'))
    .argument('<id>', 'the token id (token list shows them)')
    .option('--token-file <file>', 'operator token for a running fleet (default: DATA/operator-token)')
    .action(async (id: string, o: import('../fleet/service/fleet-command.js').TokenCommandOptions) => {
      exitCode = await (await import('../fleet/service/fleet-command.js')).runFleetToken('revoke', id, o);
    });

  const rollout = fleet.command('rollout').description('Signed releases out in waves with health gates, through the running fleet: create, list, status, pause, resume, abort.').exitOverride();
  const rolloutCmd = (c: Command): Command =>
    c
      .requiredOption('--data <dir>', 'the fleet data directory (the running fleet is found through it)')
      .option('--token-file <file>', 'operator token (default: DATA/operator-token)')
      .option('--json', 'print JSON', false)
      .exitOverride();
  rolloutCmd(rollout.command('create').description('Start a rollout of a release in the fleet\'s TUF repository.'))
    .requiredOption('--target <path>', 'the release\'s target path (GET /v1/releases lists them)')
    .option('--selector <sel>', 'all, ids:gw-1,gw-2, or a label selector like site=plant-2', 'all')
    .option('--wave <wave>', 'a wave, in order (repeatable): 5 (a count), 10% (cumulative share), site=plant-1 (a label group)', many, [] as string[])
    .option('--max-failure <share>', 'gate: share of a wave that may fail its update (0.05 or 5%; default 0)')
    .option('--max-rollback <share>', 'gate: share that may roll back in probation (default 0)')
    .option('--max-timeout <share>', 'gate: share that may not answer in time (default 10%)')
    .option('--rate <n>', 'gateways told per minute at most (default 600)')
    .option('--window <w>', 'maintenance window (repeatable): SELECTOR@HH:MM-HH:MM@TIMEZONE', many, [] as string[])
    .option('--timeout-min <n>', 'minutes a gateway has to report an outcome (default 30)')
    .option('--on-gate-failure <what>', 'pause (default), or rollback: also switch every gateway the rollout reached back to its previous release')
    .option('--shadow <n>', 'quality gates: each wave first runs the release in shadow for n inferences per gateway, and activates it only if the numbers pass')
    .option('--shadow-max-s <s>', 'the longest a shadow may take, in seconds (default 600)')
    .option('--min-agreement <x>', 'quality gate: anomaly alert agreement, vision detection F1 (default 0.9)')
    .option('--min-correlation <x>', 'quality gate: anomaly score correlation (default off: on normal running the scores are mostly noise)')
    .option('--min-class-agreement <x>', 'quality gate: vision class agreement (default 0.9; "off")')
    .option('--max-p99-ms <ms>', 'quality gate: the candidate\'s p99 latency (default: the release\'s latency budget)')
    .option('--max-evaluation-drop <x>', 'quality gate for a release with a labelled evaluation set: how far its score on it (anomaly: ROC AUC; vision: detection F1 at IoU 0.5) may fall below the active model\'s (default 0: no worse); agreement is then not gated')
    .option('--max-shadow-fail <share>', 'quality gate: share of a wave\'s gateways that may fail the above (default 0)')
    .option('--name <name>', 'for people')
    .action(async (o: import('../fleet/service/rollout-command.js').RolloutCreateOptions) => {
      exitCode = await (await import('../fleet/service/rollout-command.js')).runRolloutCreate(o);
    });
  rolloutCmd(rollout.command('list').description('Rollouts, newest first.')).action(async (o: import('../fleet/service/rollout-command.js').RolloutCommandOptions) => {
    exitCode = await (await import('../fleet/service/rollout-command.js')).runRolloutAction('list', undefined, o);
  });
  for (const action of ['status', 'pause', 'resume', 'abort'] as const) {
    rolloutCmd(rollout.command(action).description(action === 'status' ? 'Waves and gates of one rollout.' : action === 'resume' ? 'Resume a paused rollout (after a failed gate: accept the wave and go on).' : `${action[0]?.toUpperCase()}${action.slice(1)} a rollout.`))
      .argument('<id>', 'the rollout id (ro-...)')
      .action(async (id: string, o: import('../fleet/service/rollout-command.js').RolloutCommandOptions) => {
        exitCode = await (await import('../fleet/service/rollout-command.js')).runRolloutAction(action, id, o);
      });
  }

  const learning = fleet.command('learning').description('Federated learning tasks on the running fleet: create, list, status, stop.').exitOverride();
  const learningCmd = (c: Command): Command =>
    c
      .requiredOption('--data <dir>', 'the fleet data directory (the running fleet is found through it)')
      .option('--token-file <file>', 'operator token (default: DATA/operator-token)')
      .option('--json', 'print JSON', false)
      .exitOverride();
  learningCmd(learning.command('create').description('Start a federated learning task: its rounds train the model on the gateways the task selects.'))
    .requiredOption('--task <file>', 'the task definition, JSON or YAML: id, model, gatewaySelector, strategy, localEpochs, learningRate, clipNorm, minClients, samplingShare, deadlineMs, and optionally lateUpdates, privacy, quantisation (fleet/federated/README.md)')
    .option('--rounds <n>', 'rounds to run (default: until stopped or the privacy budget is spent)')
    .option('--interval-s <s>', 'seconds between a round\'s close and the next (default 0)')
    .option('--initial-release <n>', 'the release of the model the first round starts from (default: the newest)')
    .option('--rollout-wave <wave>', 'roll each released model out in these waves (repeatable, as rollout create --wave): 5, 10%, site=plant-1', many, [] as string[])
    .option('--rollout-selector <sel>', 'which gateways those rollouts reach: all, ids:gw-1,gw-2, or a label selector', 'all')
    .action(async (o: import('../fleet/service/learning-command.js').LearningCreateOptions) => {
      exitCode = await (await import('../fleet/service/learning-command.js')).runLearningCreate(o);
    });
  learningCmd(learning.command('list').description('Learning tasks.')).action(async (o: import('../fleet/service/learning-command.js').LearningCommandOptions) => {
    exitCode = await (await import('../fleet/service/learning-command.js')).runLearningAction('list', undefined, o);
  });
  for (const action of ['status', 'stop'] as const) {
    learningCmd(learning.command(action).description(action === 'status' ? 'A task and its last 20 rounds: outcome, participants, local validation loss, rejections by reason, privacy spent, release.' : 'Stop a task: its open round is abandoned.'))
      .argument('<id>', 'the task id')
      .action(async (id: string, o: import('../fleet/service/learning-command.js').LearningCommandOptions) => {
        exitCode = await (await import('../fleet/service/learning-command.js')).runLearningAction(action, id, o);
      });
  }

  program
    .command('broker')
    .summary('Run the embedded MQTT broker alone, for local trials.')
    .description('Run the embedded MQTT broker (aedes) alone, for local trials: prints its URL(s) on stdout, logs connects and disconnects (JSON) on stderr, stops on Ctrl-C/SIGTERM. No ACL; the fleet service has its own broker with per-gateway credentials and ACL.')
    .option('--port <n>', 'TCP port; 0 = any free port (the bound URL is printed)', '1883')
    .option('--host <addr>', 'bind address (default: 127.0.0.1 without --credentials, 0.0.0.0 with)')
    .option('--credentials <file>', 'user:password lines; the password in clear, or a Mosquitto "$7$" hash (mosquitto_passwd, or the passwd file of `edgewise fleet acl`), or a fleet "scrypt$" hash. Without it: anonymous clients, from loopback addresses only')
    .option('--tls-cert <file>', 'PEM certificate: also listen with TLS (needs --tls-key)')
    .option('--tls-key <file>', 'PEM private key of the TLS listener')
    .option('--tls-port <n>', 'TLS port; 0 = any free port', '8883')
    .option('--log-level <level>', 'debug, info, warn, error', 'info')
    .exitOverride()
    .action(async (opts: import('../fleet/broker/broker-command.js').BrokerCommandOptions) => {
      exitCode = await (await import('../fleet/broker/broker-command.js')).runBrokerCommand(opts);
    });

  program
    .command('records')
    .summary("Print the gateways' records from a broker, decoded, one line each.")
    .description("Subscribe to a broker and print the gateways' records as they arrive, decoded from the uplink's CBOR batches: one line per record (time, gateway, stream, class, id, data), or JSON lines. A payload that cannot be decoded is one line saying so (topic, size, reason); it goes on until Ctrl-C.")
    .requiredOption('--url <url>', 'the broker, e.g. mqtt://127.0.0.1:1883 or mqtts://broker:8883')
    .option('--topic <filter>', 'topic filter (repeatable); default edgewise/v1/gw/+/records (state and health topics are decoded too)', many, [] as string[])
    .option('--username <user>', 'MQTT username')
    .option('--password-file <file>', 'a file holding the MQTT password (one line); or set EDGEWISE_MQTT_PASSWORD')
    .option('--password <password>', 'MQTT password: visible to every user of the machine in `ps`; prefer --password-file or EDGEWISE_MQTT_PASSWORD')
    .option('--json', 'one JSON object per line', false)
    .exitOverride()
    .action(async (opts: import('./records-command.js').RecordsCommandOptions) => {
      exitCode = await (await import('./records-command.js')).runRecordsCommand(opts);
    });

  program
    .command('decisions')
    .summary("Print a gateway's decision log (works while it runs).")
    .description("Print a gateway's decision log (alerts and model decisions with model, outcome and explanation), oldest first. Reads a copy of the store, so it works while the gateway runs and never changes its files.")
    .requiredOption('--data <dir>', "the gateway's data directory (gateway.dataDir in its config)")
    .option('--since <time>', 'only entries at or after this time: ISO 8601 (2025-11-29T08:00:00Z) or milliseconds since 1970')
    .option('--model <name>', 'only entries made by this model')
    .option('--json', 'one JSON object per line', false)
    .exitOverride()
    .action(async (opts: import('../runtime/cli/decisions-command.js').DecisionsCommandOptions) => {
      exitCode = await (await import('../runtime/cli/decisions-command.js')).runDecisionsCommand(opts);
    });

  program
    .command('install')
    .description('Install this edgewise as a systemd service: a system user, /etc/edgewise/gateway.yaml (an existing one is kept), the data directory, a versioned copy of the code under the prefix (current, previous), edgewise.service and its rollback unit. Over an existing install: an upgrade that keeps data and config.')
    .requiredOption('-c, --config <file>', 'the gateway config (checked as gateway --check does; gateway.dataDir must be absolute)')
    .option('--prefix <dir>', 'where the versions of the code go', '/opt/edgewise')
    .option('--user <name>', 'the system user the gateway runs as', 'edgewise')
    .option('--root <dir>', 'write every path under this directory (like DESTDIR), create no user, leave systemd alone: for packagers and tests')
    .option('--from <dir>', 'install the edgewise package in this directory (a built checkout or unpacked release) instead of the running one')
    .exitOverride()
    .action(async (opts: { config: string; prefix: string; user: string; root?: string; from?: string }) => {
      exitCode = await (await import('../runtime/cli/install-command.js')).runInstall(opts);
    });

  program
    .command('uninstall')
    .description('Stop and remove the systemd service, the code and the system user; the data directory and /etc/edgewise stay unless --purge.')
    .option('--prefix <dir>', 'where the code was installed', '/opt/edgewise')
    .option('--user <name>', 'the system user to remove', 'edgewise')
    .option('--root <dir>', 'the directory an install with --root wrote under')
    .option('--purge', 'also remove the data directory (every record not yet sent) and /etc/edgewise', false)
    .exitOverride()
    .action(async (opts: { prefix: string; user: string; root?: string; purge: boolean }) => {
      exitCode = await (await import('../runtime/cli/install-command.js')).runUninstall(opts);
    });

  program
    .command('tuf-client')
    .description('A TUF client speaking the tuf-conformance client-under-test protocol, on the gateway\'s own trust code: init ROOT_FILE | refresh | download. Exit 0 on success, 1 on any failure.')
    .argument('<action>', 'init, refresh or download')
    .argument('[root]', 'init: the trusted root metadata file')
    .requiredOption('--metadata-dir <dir>', 'local metadata (non-versioned file names)')
    .option('--metadata-url <url>', 'where the repository serves its metadata')
    .option('--target-name <path>', 'a target to download (repeatable, in order)', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--target-base-url <url>', 'where the repository serves its targets')
    .option('--target-dir <dir>', 'where downloaded targets go')
    .exitOverride()
    .action(async (action: string, root: string | undefined, opts: import('../runtime/updater/tuf-client-command.js').TufClientOptions) => {
      const { runTufClient } = await import('../runtime/updater/tuf-client-command.js');
      exitCode = await runTufClient(action, root, opts);
    });

  registerModelCommands(program, commander, (code) => {
    exitCode = code;
  });
  registerModbusCommands(program, (code) => (exitCode = code));
  registerOpcuaCommands(program, commander, (code) => (exitCode = code));

  // `sim SCENARIO.yaml` runs a whole scenario; `sim mcu` (and later parts) run one part alone.
  const sim = program
    .command('sim')
    .description('The simulated factory: `edgewise sim SCENARIO.yaml` runs a scenario (fleet, gateways, faults) and scores it; its parts run alone as subcommands.')
    .usage('SCENARIO.yaml [options]\n       edgewise sim mcu --pty PATH [options]')
    .argument('[scenario]', 'a scenario file (sim/scenarios/default.yaml; format in sim/README.md)')
    .option('--report-dir <dir>', "where scorecard.json and report.html go (default: the scenario's reportDir, else under the run's data)")
    .option('--duration <s>', "seconds to run (default: the scenario's duration)")
    .option('--keep-open', 'after the scorecard, keep the fleet and its console up until Ctrl-C')
    .exitOverride()
    .action(async (scenario: string | undefined, opts: import('../sim/run/cli.js').SimCommandOptions) => {
      if (scenario === undefined) {
        sim.outputHelp();
        exitCode = EXIT_USAGE;
        return;
      }
      const { runSimCommand } = await import('../sim/run/cli.js');
      exitCode = await runSimCommand(scenario, opts);
    });
  sim
    .command('mcu')
    .description('A simulated sensor MCU speaking the firmware-bridge protocol on a serial device (a socat pty, say).')
    .requiredOption('--pty <path>', 'the serial device to open, e.g. the link made by: socat pty,raw,echo=0,link=/tmp/mcu pty,raw,echo=0,link=/tmp/gw')
    .option('--rate <hz>', 'samples per second per channel', '1000')
    .option('--device-id <id>', 'the device id in HELLO', 'sim-mcu-1')
    .option('--seed <n>', 'seed of the signals', '1')
    .option('--baud <n>', 'baud rate', '921600')
    .option('--samples-per-frame <n>', 'samples per SAMPLES frame (default: as many as fit)')
    .option('--buffer-seconds <s>', 'how long uncommitted samples are kept', '60')
    .option('--noise <bytes-per-s>', 'random bytes written between frames', '0')
    .option('--drop-frames <p>', 'probability of dropping an outgoing frame', '0')
    .option('--clock-error-ppm <ppm>', 'error of the MCU crystal', '30')
    .option('--fault <kind>', 'start with a fault on (repeatable): bearing-wear, spikes, stuck, drift', (v: string, all: string[]) => [...all, v], [] as string[])
    .option('--status-every <s>', 'seconds between status lines', '5')
    .addHelpText('after', `\n${SIM_MCU_HELP}`)
    .exitOverride()
    .action(async (opts: import('../sim/mcu/cli.js').SimMcuCommandOptions) => {
      const { runSimMcu } = await import('../sim/mcu/cli.js');
      exitCode = await runSimMcu(opts);
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof commander.CommanderError) {
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      // The tuf-conformance protocol wants 1 for any failure, usage errors included.
      process.exit(ok ? 0 : argv[2] === 'tuf-client' ? 1 : EXIT_USAGE);
    }
    throw err;
  }
  return gateway === undefined ? { exitCode } : { gateway };
}

try {
  const parsed = await parseCommandLine(process.argv);
  process.exitCode = 'gateway' in parsed ? await (await import('../runtime/cli/gateway-command.js')).runGatewayCommand(parsed.gateway) : parsed.exitCode;
} catch (err) {
  process.stderr.write(`edgewise: unexpected failure: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT_FAILURE);
}
