import { cborDecode } from '../../fleet/protocol/cbor.js';
import type { DecisionEntry } from '../store/decision-log.js';
import { DECISION_END, DECISION_PREFIX, decisionCutoffKey } from '../store/keys.js';
import { StoreSnapshotError, openStoreSnapshot } from './store-snapshot.js';
import { jsonText as json } from './json-text.js';

export interface DecisionsCommandOptions {
  readonly data: string;
  readonly since?: string;
  readonly model?: string;
  readonly json: boolean;
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const MAX_TEXT_FIELD_CHARS = 300;

/** `--since`: milliseconds since the epoch, or an ISO 8601 date/time. */
export function parseSince(value: string): number | undefined {
  if (/^\d+$/.test(value)) return Number(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}


function cut(text: string): string {
  return text.length <= MAX_TEXT_FIELD_CHARS ? text : `${text.slice(0, MAX_TEXT_FIELD_CHARS)}... (${text.length - MAX_TEXT_FIELD_CHARS} more chars)`;
}

/** One entry as one line: time, kind, stream, model, outcome, explanation, record. */
export function formatDecision(e: DecisionEntry): string {
  const when = Number.isFinite(e.ts) ? new Date(e.ts).toISOString() : String(e.ts);
  const model = e.model === null ? 'model=-' : `model=${e.model.name}@${e.model.version}`;
  return `${when} ${e.kind} ${e.stream} ${model} outcome=${cut(json(e.outcome))} explanation=${cut(json(e.explanation))}${e.recordId === null ? '' : ` record=${e.recordId}`}`;
}

/**
 * `edgewise decisions`: prints a gateway's decision log, oldest first, from a snapshot of
 * its store (store-snapshot.ts): works while the gateway runs and never changes its files.
 */
export async function runDecisionsCommand(options: DecisionsCommandOptions): Promise<number> {
  let sinceMs = 0;
  if (options.since !== undefined) {
    const parsed = parseSince(options.since);
    if (parsed === undefined) {
      process.stderr.write(`edgewise decisions: --since: expected an ISO date/time (2025-11-29T08:00:00Z) or milliseconds since 1970, got ${JSON.stringify(options.since)}\n`);
      return EXIT_USAGE;
    }
    sinceMs = parsed;
  }
  let snapshot;
  try {
    snapshot = await openStoreSnapshot(options.data);
  } catch (err) {
    if (err instanceof StoreSnapshotError) {
      process.stderr.write(`edgewise decisions: ${err.message}\n`);
      return err.code === 'E_STORE_NOT_FOUND' ? EXIT_USAGE : EXIT_FAILURE;
    }
    throw err;
  }
  let shown = 0;
  let unreadable = 0;
  try {
    const from = sinceMs > 0 ? decisionCutoffKey(sinceMs) : DECISION_PREFIX;
    for await (const [key, value] of snapshot.db.iterator({ gte: from, lt: DECISION_END })) {
      let entry: DecisionEntry;
      try {
        entry = cborDecode(value) as DecisionEntry;
        if (entry === null || typeof entry !== 'object' || typeof entry.ts !== 'number') throw new Error('not a decision entry');
      } catch (err) {
        unreadable += 1;
        process.stderr.write(`edgewise decisions: entry ${key} (${value.byteLength} bytes) not decoded: ${(err as Error).message}\n`);
        continue;
      }
      if (entry.ts < sinceMs) continue; // the key's time is the entry's; this only guards odd entries
      if (options.model !== undefined && entry.model?.name !== options.model) continue;
      process.stdout.write(`${options.json ? json(entry) : formatDecision(entry)}\n`);
      shown += 1;
    }
  } finally {
    await snapshot.close();
  }
  process.stderr.write(`edgewise decisions: ${shown} entr${shown === 1 ? 'y' : 'ies'} from a snapshot of ${options.data} taken at ${new Date(snapshot.takenAtMs).toISOString()}${unreadable > 0 ? `, ${unreadable} unreadable` : ''}\n`);
  return EXIT_OK;
}
