/**
 * The fleet's routes the page uses, typed: every one is in /openapi.json (plus /v1/live,
 * read by live/live-stream.ts). Lists the page shows whole are read page by page.
 */
import type { ApiClient } from './client.js';
import type {
  FleetEvent,
  GatewayCounts,
  GatewayDetail,
  GatewaySummary,
  LearningRound,
  LearningTask,
  Me,
  MetricSample,
  Page,
  Release,
  Rollout,
  RolloutEvent,
  RolloutPreview,
  RolloutRequest,
  RolloutStatus,
} from './types.js';

/** The API's largest page. */
export const MAX_PAGE = 1000;

export interface EventQuery {
  readonly gateway?: string;
  readonly kind?: string;
  readonly model?: string;
  readonly stream?: string;
  readonly from?: number;
  readonly to?: number;
  readonly before?: string;
  readonly limit?: number;
}

export class FleetApi {
  constructor(readonly client: ApiClient) {}

  me(): Promise<Me> {
    return this.client.get('/v1/me');
  }

  /** Every gateway, in id order, 1,000 a request. */
  async allGateways(signal?: AbortSignal): Promise<GatewaySummary[]> {
    const out: GatewaySummary[] = [];
    let after: string | null = null;
    do {
      const page: Page<GatewaySummary> = await this.client.get('/v1/gateways', { limit: MAX_PAGE, after }, signal);
      out.push(...page.items);
      after = page.next;
    } while (after !== null);
    return out;
  }

  gatewayCounts(): Promise<GatewayCounts> {
    return this.client.get('/v1/gateway-counts');
  }

  gateway(id: string): Promise<GatewayDetail> {
    return this.client.get(`/v1/gateways/${encodeURIComponent(id)}`);
  }

  gatewayMetrics(id: string, from: number, to: number): Promise<{ items: MetricSample[] }> {
    return this.client.get(`/v1/gateways/${encodeURIComponent(id)}/metrics`, { from, to, limit: MAX_PAGE });
  }

  events(q: EventQuery): Promise<Page<FleetEvent>> {
    return this.client.get('/v1/events', { ...q });
  }

  event(gatewayId: string, recordId: string): Promise<FleetEvent> {
    return this.client.get(`/v1/events/${encodeURIComponent(gatewayId)}/${encodeURIComponent(recordId)}`);
  }

  releases(): Promise<{ items: Release[] }> {
    return this.client.get('/v1/releases');
  }

  rollouts(state?: string): Promise<{ items: Rollout[] }> {
    return this.client.get('/v1/rollouts', { state });
  }

  rollout(id: string): Promise<RolloutStatus> {
    return this.client.get(`/v1/rollouts/${encodeURIComponent(id)}`);
  }

  rolloutEvents(after: number, limit = MAX_PAGE): Promise<{ items: RolloutEvent[]; next: number }> {
    return this.client.get('/v1/rollout-events', { after, limit });
  }

  previewRollout(body: RolloutRequest): Promise<RolloutPreview> {
    return this.client.post('/v1/rollouts/preview', body);
  }

  createRollout(body: RolloutRequest): Promise<RolloutStatus> {
    return this.client.post('/v1/rollouts', body);
  }

  moveRollout(id: string, action: 'pause' | 'resume' | 'abort'): Promise<RolloutStatus> {
    return this.client.post(`/v1/rollouts/${encodeURIComponent(id)}/${action}`);
  }

  learningTasks(): Promise<Page<LearningTask>> {
    return this.client.get('/v1/learning/tasks', { limit: MAX_PAGE });
  }

  learningTask(id: string): Promise<LearningTask> {
    return this.client.get(`/v1/learning/tasks/${encodeURIComponent(id)}`);
  }

  learningRounds(id: string): Promise<Page<LearningRound, number>> {
    return this.client.get(`/v1/learning/tasks/${encodeURIComponent(id)}/rounds`, { limit: MAX_PAGE });
  }

  stopLearningTask(id: string): Promise<LearningTask> {
    return this.client.post(`/v1/learning/tasks/${encodeURIComponent(id)}/stop`);
  }
}
