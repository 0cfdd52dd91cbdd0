import { ProtocolError } from './errors.js';

/**
 * Model updates over MQTT. The fleet tells a gateway that a release exists (the notice only
 * says where to look: everything that matters is in signed TUF metadata, so a forged notice
 * can at most make the gateway check); the gateway reports every step of an update.
 */
export interface ReleaseNotice {
  /** The target path of the model release in the TUF repository. */
  readonly target: string;
}

export interface UpdateReportMessage {
  readonly gw: string;
  readonly model: string | null;
  readonly target: string;
  readonly release: number | null;
  readonly version: string | null;
  readonly step: 'refresh' | 'check' | 'download' | 'install' | 'health' | 'activate' | 'probation' | 'rollback';
  readonly outcome: 'ok' | 'refused' | 'failed';
  readonly reason: string | null;
  readonly ts: number;
}

const STEPS = ['refresh', 'check', 'download', 'install', 'health', 'activate', 'probation', 'rollback'] as const;
const MAX_NOTICE_BYTES = 4096;

function json(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ProtocolError('E_PAYLOAD_DECODE', `${what}: not UTF-8 JSON (${(err as Error).message})`, { cause: err });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProtocolError('E_PAYLOAD_INVALID', `${what}: expected a JSON object`);
  return v as Record<string, unknown>;
}

export function encodeReleaseNotice(n: ReleaseNotice): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(n));
}

export function decodeReleaseNotice(bytes: Uint8Array): ReleaseNotice {
  if (bytes.length > MAX_NOTICE_BYTES) throw new ProtocolError('E_PAYLOAD_TOO_LARGE', `release notice: ${bytes.length} bytes, at most ${MAX_NOTICE_BYTES}`);
  const v = json(bytes, 'release notice');
  if (typeof v['target'] !== 'string' || !/^[A-Za-z0-9._/-]{1,200}$/.test(v['target'])) throw new ProtocolError('E_PAYLOAD_INVALID', `release notice.target: expected a target path, got ${JSON.stringify(v['target'])}`);
  return { target: v['target'] };
}

export function encodeUpdateReport(r: UpdateReportMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(r));
}

export function decodeUpdateReport(bytes: Uint8Array): UpdateReportMessage {
  const v = json(bytes, 'update report');
  const str = (k: string, nullable: boolean): string | null => {
    const x = v[k];
    if (typeof x === 'string' || (nullable && x === null)) return x;
    throw new ProtocolError('E_PAYLOAD_INVALID', `update report.${k}: expected a string${nullable ? ' or null' : ''}`);
  };
  if (!(STEPS as readonly unknown[]).includes(v['step'])) throw new ProtocolError('E_PAYLOAD_INVALID', `update report.step: expected one of ${STEPS.join(', ')}`);
  if (v['outcome'] !== 'ok' && v['outcome'] !== 'refused' && v['outcome'] !== 'failed') throw new ProtocolError('E_PAYLOAD_INVALID', 'update report.outcome: expected ok, refused or failed');
  if (!(v['release'] === null || Number.isInteger(v['release']))) throw new ProtocolError('E_PAYLOAD_INVALID', 'update report.release: expected an integer or null');
  if (typeof v['ts'] !== 'number') throw new ProtocolError('E_PAYLOAD_INVALID', 'update report.ts: expected a number');
  return { gw: str('gw', false) as string, model: str('model', true), target: str('target', false) as string, release: v['release'] as number | null, version: str('version', true), step: v['step'] as UpdateReportMessage['step'], outcome: v['outcome'], reason: str('reason', true), ts: v['ts'] };
}
