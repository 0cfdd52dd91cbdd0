import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, EdgewiseError } from '../errors.js';
import type { QueueOptions } from '../pipeline/bounded-queue.js';
import type { PluginRegistry } from '../pipeline/registry.js';
import { readUplinkFiles, type UplinkSettings } from '../uplink/mqtt-options.js';
import { readSparkplugFiles } from '../uplink/sparkplug/files.js';
import type { SparkplugSettings } from '../uplink/sparkplug/schema.js';
import { fileProblems, type FileRef } from './file-check.js';
import { decodeConfigText, printable } from './text-check.js';
import { validateRoot, type Problem } from './validate.js';
import { problemLines, readYamlSource, type Located, type Path } from './yaml-source.js';

export interface DeviceEntry {
  readonly id: string;
  readonly type: string;
  /** The entry as validated by its plug-in's schema. */
  readonly config: unknown;
}

export interface StageEntry {
  readonly type: string;
  readonly queue: QueueOptions;
  readonly config: unknown;
}

export interface PipelineEntry {
  readonly id: string;
  readonly source: string;
  readonly queue: QueueOptions;
  readonly stages: readonly StageEntry[];
  /** Made for a device that no pipeline names: source straight to the store. */
  readonly implicit: boolean;
}

/** The gateway config after validation, with every default filled in. */
export interface GatewayConfig {
  readonly gateway: { readonly id: string; readonly dataDir: string; readonly shutdownTimeoutMs: number };
  readonly devices: readonly DeviceEntry[];
  readonly pipelines: readonly PipelineEntry[];
  readonly models: readonly unknown[];
  /** The inference backend: its name and its section as its plug-in validated it. */
  readonly inference: { readonly backend: string; readonly config: unknown };
  readonly store: {
    readonly maxSizeBytes: number;
    readonly sync: boolean;
    readonly batchMaxRecords: number;
    /** Under load, start a LevelDB batch at most this often (ms); 0: as soon as the previous one is done. */
    readonly lingerMs: number;
    /** Free-space watermark of the data directory's filesystem (0: off). */
    readonly minFreeBytes: number;
    readonly decisionLog: { readonly retentionDays: number; readonly maxSizeBytes: number };
  };
  readonly uplink: UplinkSettings;
  /** The Sparkplug B edge node on the plant's broker (paths resolved); null: none. */
  readonly sparkplug: SparkplugSettings | null;
  readonly health: { readonly listen: { readonly host: string; readonly port: number } | null; readonly intervalMs: number };
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error' };
  readonly updates: {
    readonly metadataUrl: string;
    readonly targetBaseUrl: string;
    readonly rootFile: string;
    readonly models: readonly string[];
    readonly checkIntervalMs: number;
    /** The health check's providers; undefined: the inference backend's. */
    readonly providers: readonly string[] | undefined;
  } | null;
  /** Federated learning; null: off (the default). */
  readonly learning: { readonly reservoirWindows: number; readonly heldOutShare: number; readonly maxChunkBytes: number } | null;
  /** How systemd runs it (the unit `edgewise install` writes). */
  readonly service: {
    /** MemoryMax= as systemd reads it: bytes, or a number with K, M or G. */
    readonly memoryMax: string;
    readonly watchdogSec: number;
    readonly startLimitBurst: number;
    readonly startLimitIntervalSec: number;
  };
}

export interface ParseOptions {
  /**
   * Where relative paths in the config point from: the config file's directory (what
   * `loadConfig` passes). Default: the working directory.
   */
  readonly baseDir?: string;
}

/** What a config text says, before any file it names is looked at. */
interface Analysis {
  readonly problems: Located[];
  readonly files: readonly FileRef[];
  readonly config?: GatewayConfig;
  /** The line of a config path (of its deepest node that exists). */
  readonly lineOf: (path: Path) => number | undefined;
}

function analyse(text: string, registry: PluginRegistry, baseDir: string): Analysis {
  const source = readYamlSource(text);
  if (!('root' in source)) return { problems: source.problems, files: [], lineOf: source.lineOf };
  const result = validateRoot(source.root, registry, baseDir);
  const problems = [...source.problems, ...result.problems.map((p: Problem) => ({ text: p.text, line: source.lineOf(p.path) }))];
  return { problems, files: result.files, lineOf: source.lineOf, ...(problems.length === 0 && result.config !== undefined ? { config: result.config } : {}) };
}

/** One ConfigError with every problem, in line order, each line escaped (no raw control bytes reach a terminal). */
function configError(sourceName: string, problems: readonly Located[]): ConfigError {
  return new ConfigError(printable(sourceName), problemLines(problems));
}

/**
 * Validates a config document (YAML text) and fills in defaults: every section's schema, the
 * cross-field rules of the core and of each plug-in, the types of the pipeline edges. Pure:
 * reads no files (`loadConfig` also checks the files the config names). Relative paths come
 * back resolved against `options.baseDir`. Throws ConfigError listing every problem found,
 * one line each.
 */
export function parseConfig(text: string, sourceName: string, registry: PluginRegistry, options: ParseOptions = {}): GatewayConfig {
  const analysis = analyse(text, registry, resolve(options.baseDir ?? '.'));
  if (analysis.config === undefined) throw configError(sourceName, analysis.problems);
  return analysis.config;
}

/** The problems of PEM files that are readable but not what they should be (a start would fail on them). */
async function pemProblems(config: GatewayConfig, lineOf: (path: Path) => number | undefined): Promise<Located[]> {
  const { problems } = await readUplinkFiles(config.uplink satisfies UplinkSettings);
  const located: Located[] = problems.map((text) => {
    const key = /^uplink\.(\w+):/.exec(text)?.[1];
    return { text, line: key === undefined ? undefined : lineOf(['uplink', key]) };
  });
  if (config.sparkplug !== null) {
    for (const text of (await readSparkplugFiles(config.sparkplug)).problems) {
      const key = /^sparkplug\.([\w.]+):/.exec(text)?.[1];
      located.push({ text, line: key === undefined ? undefined : lineOf(['sparkplug', ...key.split('.')]) });
    }
  }
  return located;
}

/**
 * Reads and validates a config file: everything `parseConfig` checks, and the files it names
 * (readable, and for the uplink's PEM files, parseable; the data directory writable or
 * creatable), each problem at the line of the key that names the file. Relative paths are
 * resolved against the config file's directory. This is what `--check` runs and what every
 * start runs first, so a start fails on nothing the check could have caught. Throws
 * ConfigError (exit code 2 material), or E_CONFIG_READ when the file cannot be read.
 */
export async function loadConfig(path: string, registry: PluginRegistry): Promise<GatewayConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new EdgewiseError('E_CONFIG_READ', `config ${printable(path)} could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const decoded = decodeConfigText(bytes);
  if (decoded.problem !== undefined) throw configError(path, [{ text: decoded.problem, line: undefined }]);
  const analysis = analyse(decoded.text, registry, dirname(resolve(path)));
  const files = await fileProblems(analysis.files);
  const problems = [...analysis.problems, ...files.map((f) => ({ text: f.text, line: analysis.lineOf(f.path) }))];
  // PEM contents only once the files are readable and the rest is sound (they are read again at start).
  if (problems.length === 0 && analysis.config !== undefined) problems.push(...(await pemProblems(analysis.config, analysis.lineOf)));
  if (problems.length > 0 || analysis.config === undefined) throw configError(path, problems);
  return analysis.config;
}
