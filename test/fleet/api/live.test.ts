import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFederatedTask } from '../../../fleet/federated/round/index.js';
import { FederatedStore } from '../../../fleet/federated/service/federated-store.js';
import type { FleetMetrics } from '../../../fleet/metrics.js';
import { RELEASE } from '../rollouts/rollout-sim.js';
import { SseClient } from '../../support/sse-client.js';
import { waitFor } from '../../support/wait-for.js';
import { addGateway, json, useApi, type ApiRig } from './rig.js';

async function liveUrl(api: ApiRig): Promise<string> {
  if (!api.app.server.listening) await api.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}/v1/live`;
}

async function resyncs(m: FleetMetrics, reason: string): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'edgewise_fleet_live_resyncs_total');
  return ((metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[]).filter((v) => v.labels['reason'] === reason).reduce((n, v) => n + v.value, 0);
}

const rolloutBody = { target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 1 }, { kind: 'share', share: 1 }] };

describe('GET /v1/live', () => {
  const api = useApi('pglite');
  const clients: SseClient[] = [];
  const open = async (token: string | null, o: { paused?: boolean } = {}): Promise<SseClient> => {
    const c = await SseClient.open(await liveUrl(api), token, o);
    clients.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  it('says hello at once, to read-only tokens too, and refuses a request without a live token', async () => {
    const before = Date.now();
    const c = await open(api.ro);
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(c.headers['cache-control']).toBe('no-store');
    const hello = await c.next<{ serverTimeMs: number }>('hello');
    expect(hello.serverTimeMs).toBeGreaterThanOrEqual(before);
    expect(c.messages[0]?.event).toBe('hello');

    const none = await api.call('GET', '/v1/live', { token: null });
    expect(none.statusCode).toBe(401);
    expect(json(none)).toMatchObject({ code: 'E_UNAUTHORIZED' });
    const dead = await open(`ewt_${'A'.repeat(43)}`);
    expect(dead.status).toBe(401);
    const bad = await api.call('GET', '/v1/live?after=5', { token: api.ro });
    expect(bad.statusCode).toBe(400);
    expect(json(bad)).toMatchObject({ code: 'E_VALIDATION', detail: expect.stringContaining('after') as unknown });
  });

  it('sends gateways provisioned and revoked through the API as `gateways`, each item as GET /v1/gateways lists it', async () => {
    const c = await open(api.ro);
    await c.next('hello');
    expect((await api.call('POST', '/v1/gateways', { json: { id: 'gw-1', labels: { site: 'plant-1' } } })).statusCode).toBe(201);
    const added = await c.next<{ items: { id: string; status: string }[] }>('gateways', (d) => d.items.some((g) => g.id === 'gw-1'));
    const listed = json<{ items: unknown[] }>(await api.call('GET', '/v1/gateways'));
    expect(added.items).toEqual(listed.items);
    expect(added.items[0]).toMatchObject({ id: 'gw-1', status: 'never-seen', site: 'plant-1' });

    await api.call('POST', '/v1/gateways/gw-1/revoke');
    const revoked = await c.next<{ items: { id: string; status: string; revokedMs: number | null }[] }>('gateways', (d) => d.items.some((g) => g.status === 'revoked'));
    expect(revoked.items).toEqual(json<{ items: unknown[] }>(await api.call('GET', '/v1/gateways')).items);
  });

  it('sends each rollout decision as `rollout`, as GET /v1/rollout-events lists it', async () => {
    api.stubs.releases = async () => [RELEASE];
    for (let i = 0; i < 3; i += 1) await addGateway(api, `gw-${i}`);
    const c = await open(api.ro);
    await c.next('hello');
    const id = json<{ rollout: { id: string } }>(await api.call('POST', '/v1/rollouts', { json: rolloutBody })).rollout.id;
    await api.call('POST', `/v1/rollouts/${id}/pause`);
    await c.next<{ kind: string }>('rollout', (d) => d.kind === 'paused');
    const listed = json<{ items: unknown[] }>(await api.call('GET', '/v1/rollout-events?after=0')).items;
    expect(c.of('rollout')).toEqual(listed);
    expect(c.of<{ kind: string; rolloutId: string }>('rollout').map((d) => [d.rolloutId, d.kind])).toEqual([
      [id, 'created'],
      [id, 'wave-started'],
      [id, 'paused'],
    ]);
  });

  it('sends `learning` when a task is created, a round opens or closes, and the task is stopped', async () => {
    const c = await open(api.ro);
    await c.next('hello');
    // The round service's own store on the API's change feed (a real task needs model files the rig has not).
    const store = new FederatedStore(api.db.sql, api.deps.changes);
    const definition = parseFederatedTask({ id: 'press-ae', model: 'anomaly-press', gatewaySelector: 'line=press', strategy: { type: 'fedavg' }, localEpochs: 1, learningRate: 0.01, clipNorm: 1, minClients: 2, samplingShare: 1, deadlineMs: 60_000 });
    const ref = { name: 'anomaly-press', release: 1, version: 'v1', sha256: 'a'.repeat(64), fetch: { type: 'tuf' as const, target: 'models/anomaly-press/1/model.onnx' } };
    await store.insertTask({ id: 'press-ae', definition, schedule: { rounds: 3, roundIntervalMs: 0, rollout: null }, globalModel: ref, nowMs: Date.now() });
    await c.next('learning', (d: { taskId: string; round: number | null }) => d.taskId === 'press-ae' && d.round === null);
    await store.openRound({ task: 'press-ae', round: 1, openedMs: Date.now(), deadlineMs: Date.now() + 60_000, globalModel: ref, sampled: 2 });
    await c.next('learning', (d: { taskId: string; round: number | null }) => d.round === 1);
    const before = c.messages.length;
    // Stopped through the API: the round service abandons the open round and stops the task.
    expect((await api.call('POST', '/v1/learning/tasks/press-ae/stop')).statusCode).toBe(200);
    await c.next('learning', (d: { taskId: string; round: number | null }) => d.taskId === 'press-ae' && d.round === null, 20_000, before);
    expect(c.of('learning').every((d) => JSON.stringify(Object.keys(d as object).sort()) === '["round","taskId"]')).toBe(true);
  });

  it('holds at most 64 streams (503 E_TOO_MANY_STREAMS beyond), and a closed stream frees its slot', async () => {
    const url = await liveUrl(api);
    const open64 = await Promise.all(Array.from({ length: 64 }, async () => open(api.ro)));
    expect(open64.every((c) => c.status === 200)).toBe(true);
    const refused = await open(api.ro);
    expect(refused.status).toBe(503);
    await waitFor(() => refused.ended, 'the refusal to end');
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'E_TOO_MANY_STREAMS', detail: expect.stringContaining('64') as unknown });
    open64[0]?.close();
    const again = await waitFor(async () => {
      const c = await SseClient.open(url, api.ro);
      clients.push(c);
      return c.status === 200 ? c : undefined;
    }, 'a slot to free up');
    await again.next('hello');
  });

  it('ends every stream when the server closes', async () => {
    const c = await open(api.ro);
    await c.next('hello');
    await api.app.close();
    await waitFor(() => c.ended, 'the stream to end');
  });
});

describe('GET /v1/live with a client that stops reading', () => {
  // Small queues and quick batches: the slow client falls behind within a few MiB.
  const api = useApi('pglite', () => ({ live: { batchIntervalMs: 50, maxQueuedFrames: 64, maxQueuedBytes: 1024 * 1024 } }));

  it('drops that client\'s queue and sends it one `resync` when it reads again; a client that keeps reading misses nothing', async () => {
    await addGateway(api, 'gw-1');
    const url = await liveUrl(api);
    const slow = await SseClient.open(url, api.ro, { paused: true });
    const fast = await SseClient.open(url, api.ro);
    try {
      await fast.next('hello');
      // Alerts of 32 KiB, committed and announced as ingest does, until the slow client's queue overflows.
      const big = 'x'.repeat(32 * 1024);
      let n = 0;
      await waitFor(
        async () => {
          const batch = Array.from({ length: 8 }, () => ({ gatewayId: 'gw-1', recordId: `r-${(n += 1)}`, kind: 'alert' as const, class: 'alert', stream: 'press.alerts', model: null, ts: n, receivedMs: Date.now(), data: { big } }));
          await api.deps.events.insert(batch);
          for (const e of batch) api.deps.changes.event(e.gatewayId, e.recordId);
          return (await resyncs(api.deps.metrics, 'overflow')) > 0;
        },
        'the slow client to overflow',
        60_000,
        50,
      );
      expect(n).toBeLessThan(4000);
      // The fast client gets every alert, in order, and no resync.
      await waitFor(() => fast.of('event').length === n, `all ${n} alerts on the fast client`, 30_000);
      expect(fast.of<{ recordId: string }>('event').map((e) => e.recordId)).toEqual(Array.from({ length: n }, (_, i) => `r-${i + 1}`));
      expect(fast.of('resync')).toEqual([]);
      expect(await resyncs(api.deps.metrics, 'overflow')).toBe(1);

      // The slow one reads again: what the socket held, then one resync, then live again.
      slow.resume();
      const resync = await slow.next<{ reason: string }>('resync', () => true, 30_000);
      expect(resync.reason).toMatch(/too slowly/);
      expect(slow.of('resync')).toHaveLength(1);
      const got = slow.of<{ recordId: string }>('event').map((e) => e.recordId);
      expect(got.length).toBeLessThan(n);
      // In order, without gaps, up to where its queue was dropped.
      expect(got).toEqual(Array.from({ length: got.length }, (_, i) => `r-${i + 1}`));
      const at = slow.messages.length;
      await api.deps.events.insert([{ gatewayId: 'gw-1', recordId: 'after', kind: 'alert', class: 'alert', stream: 'press.alerts', model: null, ts: 1, receivedMs: Date.now(), data: {} }]);
      api.deps.changes.event('gw-1', 'after');
      await slow.next('event', (e: { recordId: string }) => e.recordId === 'after', 20_000, at);
    } finally {
      slow.close();
      fast.close();
    }
  });
});
