import {
  planRound,
  SecAggClient,
  SecAggServer,
  type KeyRoster,
  type MaskedInput,
  type NeighbourGraph,
  type RoundPlan,
  type SecAggResult,
  type ShareDelivery,
  type ShareKeys,
  type UnmaskingRequest,
  type UnmaskingResponse,
} from '../../../../fleet/protocol/secure-aggregation/index.js';
import { seededBytes } from './seeded.js';

/**
 * One secure round run in memory: real clients, a real server, the harness as the relay
 * (the MQTT wiring comes later). Faults are named sets of clients that stop at a step; hooks
 * let a test read the server's state after each step or tamper with a message on the way.
 */
export interface RoundSetup {
  readonly clients: number;
  readonly threshold: number;
  readonly inputs: readonly Uint32Array[];
  readonly graph?: NeighbourGraph;
  readonly round?: string;
  /** Seeds each client's randomness (keys, self-mask seed, nonces): same label, same masks. */
  readonly seed?: string | number;
}

export interface Faults {
  /** Never advertise keys (not in U1). */
  readonly silentFromStart?: ReadonlySet<string>;
  /** Advertise, then vanish before dealing shares (in U1, not U2). */
  readonly dropBeforeSharing?: ReadonlySet<string>;
  /** Deal shares, then vanish before sending the masked input (in U2, not U3). */
  readonly dropBeforeMasking?: ReadonlySet<string>;
  /** Send the masked input, then never answer the unmasking request (in U3, no response). */
  readonly silentAtUnmasking?: ReadonlySet<string>;
}

export interface Hooks {
  afterStep?(server: SecAggServer, step: string): void;
  roster?(roster: KeyRoster): KeyRoster;
  shareKeys?(m: ShareKeys): ShareKeys;
  delivery?(d: ShareDelivery): ShareDelivery;
  maskedInput?(m: MaskedInput): MaskedInput;
  request?(r: UnmaskingRequest): UnmaskingRequest;
  response?(r: UnmaskingResponse): UnmaskingResponse;
}

export interface RoundRun {
  readonly plan: RoundPlan;
  readonly server: SecAggServer;
  readonly clients: ReadonlyMap<string, SecAggClient>;
  /** Clients that threw at a step, and the error (a refused message makes a client drop out). */
  readonly clientErrors: ReadonlyMap<string, unknown>;
  readonly result: SecAggResult;
}

export const clientId = (i: number): string => `gw-${String(i).padStart(3, '0')}`;

export function makePlan(setup: Pick<RoundSetup, 'clients' | 'threshold' | 'graph' | 'round'> & { vectorLength: number }): RoundPlan {
  return planRound({
    round: setup.round ?? 'round-1',
    clients: Array.from({ length: setup.clients }, (_, i) => clientId(i)),
    threshold: setup.threshold,
    vectorLength: setup.vectorLength,
    graph: setup.graph ?? { type: 'complete' },
  });
}

/** Sum mod 2^32 of the inputs of the named clients. */
export function plainSum(inputs: readonly Uint32Array[], ids: readonly string[], length: number): Uint32Array {
  const sum = new Uint32Array(length);
  for (const id of ids) {
    const x = inputs[Number(id.slice(3))] as Uint32Array;
    for (let i = 0; i < length; i += 1) sum[i] = (sum[i] as number) + (x[i] as number);
  }
  return sum;
}

export async function runRound(setup: RoundSetup, faults: Faults = {}, hooks: Hooks = {}): Promise<RoundRun> {
  const vectorLength = (setup.inputs[0] as Uint32Array).length;
  const plan = makePlan({ ...setup, vectorLength });
  const server = new SecAggServer(plan);
  const step = (name: string): void => hooks.afterStep?.(server, name);
  const clients = new Map<string, SecAggClient>();
  const clientErrors = new Map<string, unknown>();
  for (const id of plan.clients) {
    const options = setup.seed === undefined ? {} : { randomBytes: seededBytes(`${String(setup.seed)}/${id}`) };
    clients.set(id, new SecAggClient(plan, id, options));
  }
  const alive = (id: string, ...gone: (ReadonlySet<string> | undefined)[]): boolean => !clientErrors.has(id) && gone.every((s) => s?.has(id) !== true);
  const attempt = async <T>(id: string, f: () => T | Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (err) {
      clientErrors.set(id, err);
      return undefined;
    }
  };

  for (const [id, c] of clients) if (alive(id, faults.silentFromStart)) server.receiveAdvertisement(c.advertise());
  step('advertised');
  const roster0 = server.closeAdvertising();
  const roster = hooks.roster?.(roster0) ?? roster0;
  step('roster');
  for (const id of roster0.clients.map((c) => c.id)) {
    if (!alive(id, faults.dropBeforeSharing)) continue;
    const m = await attempt(id, () => (clients.get(id) as SecAggClient).shareKeys(roster));
    if (m !== undefined) server.receiveShareKeys(hooks.shareKeys?.(m) ?? m);
  }
  step('dealt');
  const deliveries = server.closeSharing();
  step('delivered');
  for (const d0 of deliveries) {
    const d = hooks.delivery?.(d0) ?? d0;
    if (!alive(d0.to, faults.dropBeforeMasking)) continue;
    const c = clients.get(d0.to) as SecAggClient;
    const ok = await attempt(d0.to, () => {
      c.receiveShares(d);
      return true;
    });
    if (ok !== true) continue;
    const m = c.maskInput(setup.inputs[Number(d0.to.slice(3))] as Uint32Array);
    server.receiveMaskedInput(hooks.maskedInput?.(m) ?? m);
    step(`masked ${d0.to}`);
  }
  const requests = server.closeMasking();
  step('requested');
  for (const r0 of requests) {
    if (!alive(r0.to, faults.silentAtUnmasking)) continue;
    const r = hooks.request?.(r0) ?? r0;
    const response = await attempt(r0.to, () => (clients.get(r0.to) as SecAggClient).unmask(r));
    if (response !== undefined) server.receiveUnmaskingResponse(hooks.response?.(response) ?? response);
    step(`responded ${r0.to}`);
  }
  const result = await server.finish();
  step('finished');
  return { plan, server, clients, clientErrors, result };
}
