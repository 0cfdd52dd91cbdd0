import { cborDecode, cborEncode } from '../cbor.js';
import { isGatewayId } from '../topics.js';
import { FederatedError, updateError } from './errors.js';
import { decodeBitmapIndices, decodeVarintIndices, encodeIndices } from './index-coding.js';
import { MAX_SCALE, Q_MAX } from './quantize.js';
import { DEFAULT_UPDATE_LIMITS, checkLayout, elementCount, isTensorName, type QuantizedTensor, type UpdateLimits } from './tensor.js';

/**
 * One client's update for one round, as the gateway sends it (chunked, see chunks.ts) and the
 * fleet reads it. The byte layout is in README.md ("Update message").
 */
export interface UpdateMessage {
  /** The round this update answers (a counter per task, so a stale update is recognisable). */
  readonly round: number;
  readonly task: string;
  /** The gateway id of the client. */
  readonly client: string;
  /** Local training examples behind this update (FedAvg's weight). */
  readonly samples: number;
  /** Loss of the locally trained model on the client's held-out data; null when it held none out. */
  readonly validationLoss: number | null;
  readonly tensors: readonly QuantizedTensor[];
  /**
   * Moments of the log reconstruction error over the client's held-out windows under the
   * round's global model (before local training), for the fleet to pool into the released
   * model's calibration; absent when none was held out (and in secure rounds).
   */
  readonly calibration?: LogErrorMomentsWire;
}

/** n windows, the sum of their ln(error) values and of their squares (the anomaly autoencoder's error, see models/anomaly). */
export interface LogErrorMomentsWire {
  readonly n: number;
  readonly sum: number;
  readonly sumSq: number;
}

/** Version of an update without `calib`; v1 decoders refuse unknown keys, so one with it is CALIBRATED_UPDATE_VERSION. */
export const UPDATE_VERSION = 1;
export const CALIBRATED_UPDATE_VERSION = 2;
/** Task ids are topic-level safe, like gateway ids. */
export const TASK_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const taskIdRe = new RegExp(TASK_ID_PATTERN);
/** FedAvg weights by sample count: a bound keeps one client's claim from being absurd on the wire. */
export const MAX_SAMPLES = 2 ** 32 - 1;

const ENVELOPE_KEYS = ['v', 'round', 'task', 'client', 'samples', 'valLoss', 'tensors'];
const ENVELOPE_KEYS_V2 = [...ENVELOPE_KEYS, 'calib'];
const CALIB_KEYS = ['n', 'sum', 'sumSq'];
/** Held-out windows one client may claim (as samples: a bound on the wire, not a real count). */
export const MAX_CALIBRATION_WINDOWS = MAX_SAMPLES;
const TENSOR_KEYS = ['name', 'shape', 'scale', 'q', 'iv', 'ib'];

const show = (x: unknown): string => (x instanceof Uint8Array ? `${x.length} bytes` : typeof x === 'string' ? JSON.stringify(x.length > 80 ? `${x.slice(0, 80)}...` : x) : String(x));
const bytesView = (a: Int8Array | Uint8Array | Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Encodes an update. The message is checked by the same rules a receiver applies, so a
 * gateway never sends what the fleet would refuse (E_FEDERATED_UPDATE naming the field).
 */
export function encodeUpdate(m: UpdateMessage, limits: UpdateLimits = DEFAULT_UPDATE_LIMITS): Uint8Array {
  if (m.tensors.length < 1) throw updateError('tensors', 'an update has at least one tensor');
  const counts = checkLayout(m.tensors, limits);
  const tensors = m.tensors.map((t, i) => {
    if (!(t.q instanceof Int8Array)) throw updateError(`tensors[${i}].q`, 'expected an Int8Array');
    const wire: Record<string, unknown> = { name: t.name, shape: [...t.shape], scale: t.scale, q: bytesView(t.q) };
    if (t.indices !== undefined) {
      checkIndices(t.indices, counts[i] as number, `tensors[${i}].indices`);
      const { coding, bytes } = encodeIndices(t.indices, counts[i] as number);
      wire[coding === 'varint' ? 'iv' : 'ib'] = bytes;
    }
    return wire;
  });
  const raw: Record<string, unknown> = { v: UPDATE_VERSION, round: m.round, task: m.task, client: m.client, samples: m.samples, valLoss: m.validationLoss, tensors };
  if (m.calibration !== undefined) {
    raw['v'] = CALIBRATED_UPDATE_VERSION;
    raw['calib'] = { n: m.calibration.n, sum: m.calibration.sum, sumSq: m.calibration.sumSq };
  }
  parseUpdate(raw, limits);
  const bytes = cborEncode(raw);
  if (bytes.length > limits.maxMessageBytes) throw updateError('message', `${bytes.length} bytes, at most ${limits.maxMessageBytes}`);
  return bytes;
}

/**
 * Decodes and checks an update message. Anything wrong (not CBOR, truncated, wrong version,
 * an unknown key, a value out of bounds, values that do not fit the declared shape) is a
 * FederatedError E_FEDERATED_UPDATE naming the field; nothing else is thrown.
 */
export function decodeUpdate(bytes: Uint8Array, limits: UpdateLimits = DEFAULT_UPDATE_LIMITS): UpdateMessage {
  if (!(bytes instanceof Uint8Array)) throw updateError('message', 'expected bytes');
  if (bytes.length > limits.maxMessageBytes) throw updateError('message', `${bytes.length} bytes, at most ${limits.maxMessageBytes}`);
  let raw: unknown;
  try {
    raw = cborDecode(bytes);
  } catch (err) {
    throw updateError('message', `not one whole CBOR item (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  try {
    return parseUpdate(raw, limits);
  } catch (err) {
    if (err instanceof FederatedError) throw err;
    // A check above should have caught it; still, a receiver only ever sees the coded error.
    throw updateError('message', `malformed (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

function checkIndices(indices: Uint32Array, elements: number, field: string): void {
  if (!(indices instanceof Uint32Array)) throw updateError(field, 'expected a Uint32Array');
  let prev = -1;
  indices.forEach((i, j) => {
    if (i <= prev || i >= elements) throw updateError(`${field}[${j}]`, `${i}: indices must ascend, each below ${elements}`);
    prev = i;
  });
}

function isMap(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Uint8Array) && !(x instanceof Map);
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw updateError(where === '' ? k : `${where}.${k}`, 'unknown key (a new key means a new version)');
}

function uint(x: unknown, field: string, min: number, max: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) throw updateError(field, `expected an integer from ${min} to ${max}, got ${show(x)}`);
  return x;
}

/** Checks a decoded CBOR value field by field and builds the message (copies of the byte strings). */
function parseUpdate(raw: unknown, limits: UpdateLimits): UpdateMessage {
  if (!isMap(raw)) throw updateError('message', 'expected a CBOR map');
  const v = raw['v'];
  if (v !== UPDATE_VERSION && v !== CALIBRATED_UPDATE_VERSION) throw updateError('v', `version ${show(v)} is not supported, expected ${UPDATE_VERSION} or ${CALIBRATED_UPDATE_VERSION}`);
  onlyKeys(raw, v === UPDATE_VERSION ? ENVELOPE_KEYS : ENVELOPE_KEYS_V2, '');
  // v2 exists to carry calib: without it a sender would have written v1.
  const calibration = v === CALIBRATED_UPDATE_VERSION ? parseCalibration(raw['calib']) : undefined;
  const round = uint(raw['round'], 'round', 0, Number.MAX_SAFE_INTEGER);
  const task = raw['task'];
  if (typeof task !== 'string' || !taskIdRe.test(task)) throw updateError('task', `expected a task id (${TASK_ID_PATTERN}), got ${show(task)}`);
  const client = raw['client'];
  if (typeof client !== 'string' || !isGatewayId(client)) throw updateError('client', `expected a gateway id, got ${show(client)}`);
  const samples = uint(raw['samples'], 'samples', 1, MAX_SAMPLES);
  const loss = raw['valLoss'];
  if (loss !== null && (typeof loss !== 'number' || !Number.isFinite(loss) || loss < 0)) throw updateError('valLoss', `expected a finite number >= 0 or null, got ${show(loss)}`);
  const list = raw['tensors'];
  if (!Array.isArray(list) || list.length < 1 || list.length > limits.maxTensors) throw updateError('tensors', `expected a list of 1 to ${limits.maxTensors} tensors, got ${Array.isArray(list) ? `${list.length}` : show(list)}`);
  const names = new Set<string>();
  let total = 0;
  const tensors = list.map((t: unknown, i): QuantizedTensor => {
    const where = `tensors[${i}]`;
    if (!isMap(t)) throw updateError(where, 'expected a CBOR map');
    onlyKeys(t, TENSOR_KEYS, where);
    const name = t['name'];
    if (typeof name !== 'string' || !isTensorName(name)) throw updateError(`${where}.name`, `expected a tensor name (${'1 to 128 of A-Z a-z 0-9 . _ : / -'}), got ${show(name)}`);
    if (names.has(name)) throw updateError(`${where}.name`, `"${name}" appears twice`);
    names.add(name);
    const n = elementCount(t['shape'], limits, `${where}.shape`);
    total += n;
    if (total > limits.maxElements) throw updateError(`${where}.shape`, `${total} elements in the tensors so far, at most ${limits.maxElements}`);
    const scale = t['scale'];
    if (typeof scale !== 'number' || !(scale >= 0 && scale <= MAX_SCALE) || Math.fround(scale) !== scale) throw updateError(`${where}.scale`, `expected a float32 from 0 to ${MAX_SCALE}, got ${show(scale)}`);
    const qb = t['q'];
    if (!(qb instanceof Uint8Array)) throw updateError(`${where}.q`, `expected a byte string of int8 values, got ${show(qb)}`);
    const q = new Int8Array(qb.length);
    q.set(new Int8Array(qb.buffer, qb.byteOffset, qb.byteLength));
    const below = q.indexOf(-Q_MAX - 1);
    if (below >= 0) throw updateError(`${where}.q[${below}]`, `-128 is outside -${Q_MAX}..${Q_MAX}`);
    const iv = t['iv'];
    const ib = t['ib'];
    if (iv !== undefined && ib !== undefined) throw updateError(where, 'both iv and ib: a sparse tensor has one index coding');
    const shape = t['shape'] as number[];
    if (iv === undefined && ib === undefined) {
      if (q.length !== n) throw updateError(`${where}.q`, `${q.length} values for shape [${shape.join(', ')}] (${n})`);
      return { name, shape: [...shape], scale, q };
    }
    const field = `${where}.${iv !== undefined ? 'iv' : 'ib'}`;
    const coded = iv ?? ib;
    if (!(coded instanceof Uint8Array)) throw updateError(field, `expected a byte string, got ${show(coded)}`);
    const indices = iv !== undefined ? decodeVarintIndices(coded, n, field) : decodeBitmapIndices(coded, n, field);
    if (indices.length !== q.length) throw updateError(`${where}.q`, `${q.length} values for ${indices.length} indices`);
    return { name, shape: [...shape], scale, q, indices };
  });
  return calibration === undefined ? { round, task, client, samples, validationLoss: loss, tensors } : { round, task, client, samples, validationLoss: loss, tensors, calibration };
}

function parseCalibration(c: unknown): LogErrorMomentsWire {
  if (!isMap(c)) throw updateError('calib', `expected a map of n, sum, sumSq (version ${CALIBRATED_UPDATE_VERSION} carries it), got ${show(c)}`);
  onlyKeys(c, CALIB_KEYS, 'calib');
  const n = uint(c['n'], 'calib.n', 1, MAX_CALIBRATION_WINDOWS);
  const sum = c['sum'];
  if (typeof sum !== 'number' || !Number.isFinite(sum)) throw updateError('calib.sum', `expected a finite number, got ${show(sum)}`);
  const sumSq = c['sumSq'];
  if (typeof sumSq !== 'number' || !Number.isFinite(sumSq) || sumSq < 0) throw updateError('calib.sumSq', `expected a finite number >= 0, got ${show(sumSq)}`);
  return { n, sum, sumSq };
}
