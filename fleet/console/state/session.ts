/**
 * The signed-in session: the operator token (kept in sessionStorage, so it lasts a reload of
 * the tab and no longer), who it is (/v1/me), the live stream, and the page's copy of every
 * gateway. Signing in checks the token with /v1/me; a 401 at any later call (the token was
 * revoked) signs the page out with a message saying so.
 */
import { ApiClient, ApiError } from '../api/client.js';
import { FleetApi } from '../api/endpoints.js';
import type { FleetEvent, GatewaySummary, Me, RolloutEvent } from '../api/types.js';
import { LiveStream } from '../live/live-stream.js';
import type { LiveStatus } from '../live/live-stream.js';
import { GatewayIndex } from '../logic/gateway-index.js';
import { rememberEvents } from './event-cache.js';
import { LiveBus } from './live-bus.js';
import { Store } from './store.js';

const TOKEN_KEY = 'edgewise.operatorToken';

export interface SessionState {
  readonly phase: 'starting' | 'signed-out' | 'signing-in' | 'signed-in';
  readonly me: Me | null;
  readonly signInError: string | null;
  readonly live: LiveStatus;
  readonly gatewaysVersion: number;
  readonly gatewaysLoaded: boolean;
  readonly gatewaysError: string | null;
}

export const session = new Store<SessionState>({ phase: 'starting', me: null, signInError: null, live: 'connecting', gatewaysVersion: 0, gatewaysLoaded: false, gatewaysError: null });
export const gatewayIndex = new GatewayIndex();
export const liveBus = new LiveBus();

let api: FleetApi | null = null;
let live: LiveStream | null = null;
let loadGeneration = 0;
let onlineListening = false;
/** Live gateway batches that came while the full list was loading; applied after it (keyed by id, so bounded by the fleet). */
let pendingGateways: Map<string, GatewaySummary> | null = null;

/** The API of the signed-in page. Pages render only when signed in, so there is one. */
export function fleetApi(): FleetApi {
  if (api === null) throw new Error('not signed in');
  return api;
}

export function canWrite(): boolean {
  return session.get().me?.role === 'read-write';
}

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export async function restoreSession(): Promise<void> {
  const token = storage()?.getItem(TOKEN_KEY) ?? null;
  if (token === null) {
    session.set({ phase: 'signed-out' });
    return;
  }
  await signIn(token);
}

export async function signIn(token: string): Promise<void> {
  const t = token.trim();
  if (t === '') {
    session.set({ phase: 'signed-out', signInError: 'Enter an operator token (ewt_...).' });
    return;
  }
  session.set({ phase: 'signing-in', signInError: null });
  const candidate = new FleetApi(new ApiClient(t));
  let me: Me;
  try {
    me = await candidate.me();
  } catch (err) {
    storage()?.removeItem(TOKEN_KEY);
    const refused = err instanceof ApiError && (err.status === 401 || err.status === 403);
    session.set({ phase: 'signed-out', signInError: refused ? 'The fleet refused this token: it is wrong, or it was revoked.' : `Could not sign in: ${(err as Error).message}` });
    return;
  }
  storage()?.setItem(TOKEN_KEY, t);
  api = new FleetApi(new ApiClient(t, () => signOut('The fleet refused the token: it was revoked. Sign in again.')));
  session.set({ phase: 'signed-in', me, signInError: null });
  startLive(t);
  void loadGateways();
}

export function signOut(message: string | null = null): void {
  storage()?.removeItem(TOKEN_KEY);
  live?.close();
  live = null;
  api = null;
  loadGeneration += 1;
  pendingGateways = null;
  gatewayIndex.reset([]);
  session.set({ phase: 'signed-out', me: null, signInError: message, gatewaysLoaded: false, gatewaysVersion: gatewayIndex.version });
}

function startLive(token: string): void {
  live?.close();
  live = new LiveStream(token, {
    onStatus: (status) => session.set({ live: status }),
    onUnauthorized: () => signOut('The fleet refused the token: it was revoked. Sign in again.'),
    onReopened: () => refetchAll('the live stream reopened'),
    onEvent: (type, data) => {
      switch (type) {
        case 'gateways':
          applyGateways((data as { items: GatewaySummary[] }).items ?? []);
          break;
        case 'event':
          rememberEvents([data as FleetEvent]);
          liveBus.emit('event', data as FleetEvent);
          break;
        case 'rollout':
          liveBus.emit('rollout', data as RolloutEvent);
          break;
        case 'learning':
          liveBus.emit('learning', data as { taskId: string; round: number | null });
          break;
        case 'resync':
          refetchAll((data as { reason?: string }).reason ?? 'resync');
          break;
        default:
          break; // hello, and anything newer than this page
      }
    },
  });
  live.start();
  if (!onlineListening) {
    onlineListening = true;
    window.addEventListener('online', () => live?.retryNow());
  }
}

function refetchAll(reason: string): void {
  void loadGateways();
  liveBus.emit('refetch', { reason });
}

function applyGateways(items: readonly GatewaySummary[]): void {
  if (pendingGateways !== null) {
    for (const g of items) pendingGateways.set(g.id, g);
    return;
  }
  gatewayIndex.apply(items);
  session.set({ gatewaysVersion: gatewayIndex.version });
}

/** Loads every gateway (1,000 a request), then applies what the live stream sent meanwhile. */
async function loadGateways(): Promise<void> {
  const generation = ++loadGeneration;
  pendingGateways ??= new Map();
  try {
    const items = await fleetApi().allGateways();
    if (generation !== loadGeneration) return;
    gatewayIndex.reset(items);
    const pending = pendingGateways;
    pendingGateways = null;
    if (pending !== null) gatewayIndex.apply([...pending.values()]);
    session.set({ gatewaysVersion: gatewayIndex.version, gatewaysLoaded: true, gatewaysError: null });
  } catch (err) {
    if (generation !== loadGeneration) return;
    const pending = pendingGateways;
    pendingGateways = null;
    if (pending !== null) gatewayIndex.apply([...pending.values()]);
    session.set({ gatewaysError: `Could not load the gateways: ${(err as Error).message}`, gatewaysVersion: gatewayIndex.version });
  }
}
