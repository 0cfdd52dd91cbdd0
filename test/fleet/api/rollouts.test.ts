import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../../support/fleet-db.js';
import { RELEASE } from '../rollouts/rollout-sim.js';
import { waitFor } from '../../support/wait-for.js';
import { addGateway, json, useApi } from './rig.js';

interface Status {
  rollout: { id: string; state: string; currentWave: number; gates: Record<string, number>; ratePerMinute: number };
  waves: { total: number; pending: number }[];
  events: { kind: string }[];
}

describe.each(BACKENDS)('rollouts through the HTTP API on %s', (backend) => {
  const api = useApi(backend);
  const body = { target: RELEASE.target, selector: { kind: 'all' }, waves: [{ kind: 'count', count: 2 }, { kind: 'share', share: 1 }], gates: { maxFailureShare: 0.05 } };

  it('starts a rollout with its waves planned, and pauses, resumes and aborts it', async () => {
    api.stubs.releases = async () => [RELEASE];
    for (let i = 0; i < 6; i += 1) await addGateway(api, `gw-${i}`);
    const res = await api.call('POST', '/v1/rollouts', { json: body });
    expect(res.statusCode, res.body).toBe(201);
    const created = json<Status>(res);
    expect(created.rollout).toMatchObject({ state: 'running', currentWave: 0, ratePerMinute: 600, gates: { maxFailureShare: 0.05, maxRollbackShare: 0, maxTimeoutShare: 0.1 } });
    expect(created.waves.map((w) => w.total)).toEqual([2, 4]);
    const id = created.rollout.id;
    expect(json<{ items: { id: string }[] }>(await api.call('GET', '/v1/rollouts?state=running')).items.map((r) => r.id)).toEqual([id]);
    expect(json<Status>(await api.call('POST', `/v1/rollouts/${id}/pause`)).rollout.state).toBe('paused');
    const again = await api.call('POST', `/v1/rollouts/${id}/pause`);
    expect(again.statusCode).toBe(409);
    expect(json(again)).toMatchObject({ code: 'E_ROLLOUT_STATE', detail: expect.stringContaining('paused') as unknown });
    expect(json<Status>(await api.call('POST', `/v1/rollouts/${id}/resume`)).rollout.state).toBe('running');
    const aborted = json<Status>(await api.call('POST', `/v1/rollouts/${id}/abort`));
    expect(aborted.rollout.state).toBe('aborted');
    expect(aborted.events.map((e) => e.kind)).toEqual(['created', 'wave-started', 'paused', 'resumed', 'aborted']);
    expect(json<Status>(await api.call('GET', `/v1/rollouts/${id}`)).rollout.state).toBe('aborted');
  });

  it('refuses bad rollouts with 400 naming what to fix, and stores nothing', async () => {
    api.stubs.releases = async () => [RELEASE];
    await addGateway(api, 'gw-1');
    const unknown = await api.call('POST', '/v1/rollouts', { json: { ...body, target: 'models/x/1/model.onnx' } });
    expect(unknown.statusCode).toBe(400);
    expect(json(unknown)).toMatchObject({ code: 'E_RELEASE_UNKNOWN', detail: expect.stringContaining('/v1/releases') as unknown });
    const shares = await api.call('POST', '/v1/rollouts', { json: { ...body, waves: [{ kind: 'share', share: 0.5 }, { kind: 'share', share: 0.1 }] } });
    expect(shares.statusCode).toBe(400);
    expect(json(shares)).toMatchObject({ code: 'E_VALIDATION', detail: expect.stringContaining('waves[1].share') as unknown });
    const extra = await api.call('POST', '/v1/rollouts', { json: { ...body, force: true } });
    expect(extra.statusCode).toBe(400);
    const nobody = await api.call('POST', '/v1/rollouts', { json: { ...body, selector: { kind: 'labels', selector: 'site=mars' } } });
    expect(json(nobody)).toMatchObject({ code: 'E_VALIDATION', detail: expect.stringContaining('no provisioned gateway') as unknown });
    expect(json<{ items: unknown[] }>(await api.call('GET', '/v1/rollouts')).items).toEqual([]);
    expect((await api.call('GET', '/v1/rollouts/ro-000000000000')).statusCode).toBe(404);
  });

  it('lets read-only tokens watch rollouts but not start or stop them', async () => {
    api.stubs.releases = async () => [RELEASE];
    await addGateway(api, 'gw-1');
    expect((await api.call('POST', '/v1/rollouts', { json: body, token: api.ro })).statusCode).toBe(403);
    const id = json<Status>(await api.call('POST', '/v1/rollouts', { json: body })).rollout.id;
    expect((await api.call('GET', `/v1/rollouts/${id}`, { token: api.ro })).statusCode).toBe(200);
    expect((await api.call('POST', `/v1/rollouts/${id}/abort`, { token: api.ro })).statusCode).toBe(403);
  });

  it('lists every decision across rollouts in order, and streams new ones as server-sent events, resuming after Last-Event-ID', async () => {
    api.stubs.releases = async () => [RELEASE];
    for (let i = 0; i < 3; i += 1) await addGateway(api, `gw-${i}`);
    const id = json<Status>(await api.call('POST', '/v1/rollouts', { json: body })).rollout.id;
    await api.call('POST', `/v1/rollouts/${id}/pause`);
    const page = json<{ items: { seq: number; rolloutId: string; kind: string }[]; next: number }>(await api.call('GET', '/v1/rollout-events?after=0', { token: api.ro }));
    expect(page.items.map((e) => [e.rolloutId, e.kind])).toEqual([
      [id, 'created'],
      [id, 'wave-started'],
      [id, 'paused'],
    ]);
    expect(page.next).toBe(page.items.at(-1)?.seq);
    expect(json<{ items: unknown[]; next: number }>(await api.call('GET', `/v1/rollout-events?after=${page.next}`))).toEqual({ items: [], next: page.next });

    if (api.app.server.listening === false) await api.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}/v1/rollout-events/stream`;
    expect((await fetch(url)).status).toBe(401);
    const bad = await api.call('GET', '/v1/rollout-events/stream?after=-1');
    expect(bad.statusCode).toBe(400);
    expect(json(bad)).toMatchObject({ code: 'E_VALIDATION' });
    /** Reads the stream into `text` until aborted. */
    const open = async (headers: Record<string, string>): Promise<{ text: () => string; stop: () => void }> => {
      const ac = new AbortController();
      const res = await fetch(url, { headers: { authorization: `Bearer ${api.ro}`, ...headers }, signal: ac.signal });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      let text = '';
      void (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true });
      })().catch(() => undefined);
      return { text: () => text, stop: () => ac.abort() };
    };
    // From now on: nothing old, then the next decision as it happens.
    const live = await open({});
    await waitFor(() => live.text().includes(': rollout decisions'), 'the stream to open', 10_000);
    await api.call('POST', `/v1/rollouts/${id}/resume`);
    await waitFor(() => live.text().includes('"kind":"resumed"'), 'the resume on the stream', 10_000);
    expect(live.text()).not.toContain('"kind":"created"');
    expect(live.text()).toMatch(/event: rollout\nid: \d+\ndata: \{/);
    live.stop();
    // A client that saw up to the first decision gets the rest, without a gap and without repeats.
    const first = page.items[0]?.seq ?? 0;
    const resumed = await open({ 'last-event-id': String(first) });
    await waitFor(() => resumed.text().includes('"kind":"resumed"'), 'the missed decisions', 10_000);
    const kinds = [...resumed.text().matchAll(/"kind":"([a-z-]+)"/g)].map((m) => m[1]);
    expect(kinds).toEqual(['wave-started', 'paused', 'resumed']);
    resumed.stop();
  });

  it('previews the waves a rollout would get, changing nothing; the rollout created from the same body then tells exactly those gateways', async () => {
    api.stubs.releases = async () => [RELEASE];
    for (let i = 0; i < 30; i += 1) await addGateway(api, `gw-${String(i).padStart(2, '0')}`, { labels: { site: i < 20 ? 'plant-1' : 'plant-2' } });
    const plan = { ...body, selector: { kind: 'labels', selector: 'site=plant-1' }, waves: [{ kind: 'count', count: 3 }, { kind: 'share', share: 0.5 }, { kind: 'share', share: 1 }] };
    const before = await api.snapshot();
    const res = await api.call('POST', '/v1/rollouts/preview', { json: plan, token: api.ro });
    expect(res.statusCode, res.body).toBe(200);
    const preview = json<{ target: string; model: string; release: number; total: number; waves: { index: number; size: number; gateways: string[]; more: number }[] }>(res);
    expect(preview).toMatchObject({ target: RELEASE.target, model: RELEASE.model, release: RELEASE.release, total: 20 });
    expect(preview.waves.map((w) => [w.index, w.size, w.more])).toEqual([[0, 3, 0], [1, 7, 0], [2, 10, 0]]);
    expect(preview.waves.flatMap((w) => w.gateways).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `gw-${String(i).padStart(2, '0')}`));
    // Nothing was stored.
    expect(await api.snapshot()).toBe(before);
    expect(json<{ items: unknown[] }>(await api.call('GET', '/v1/rollouts')).items).toEqual([]);
    expect(await api.db.sql.query('SELECT * FROM rollout_events')).toEqual([]);

    const created = json<Status>(await api.call('POST', '/v1/rollouts', { json: plan }));
    for (const wave of preview.waves) {
      const targets = await api.deps.rollouts.store.targets(created.rollout.id, wave.index);
      expect(targets.map((t) => t.gatewayId).sort(), `wave ${wave.index}`).toEqual(wave.gateways);
    }
  });

  it('lists at most 100 gateways of a wave and counts the rest', async () => {
    api.stubs.releases = async () => [RELEASE];
    for (let i = 0; i < 130; i += 1) await addGateway(api, `gw-${String(i).padStart(3, '0')}`);
    const preview = json<{ total: number; waves: { size: number; gateways: string[]; more: number }[] }>(await api.call('POST', '/v1/rollouts/preview', { json: { ...body, waves: [{ kind: 'count', count: 5 }, { kind: 'share', share: 1 }] } }));
    expect(preview.total).toBe(130);
    expect(preview.waves.map((w) => [w.size, w.gateways.length, w.more])).toEqual([[5, 5, 0], [125, 100, 25]]);
    expect(preview.waves[1]?.gateways).toEqual([...(preview.waves[1]?.gateways ?? [])].sort());
  });

  it('refuses a bad preview exactly as it refuses the rollout', async () => {
    api.stubs.releases = async () => [RELEASE];
    await addGateway(api, 'gw-1');
    const bad = [
      { ...body, target: 'models/x/1/model.onnx' },
      { ...body, waves: [{ kind: 'share', share: 0.5 }, { kind: 'share', share: 0.1 }] },
      { ...body, force: true },
      { ...body, selector: { kind: 'labels', selector: 'site=mars' } },
      { ...body, selector: { kind: 'ids', ids: ['gw-1', 'gw-404'] } },
      { ...body, waves: [] },
      { ...body, windows: [{ selector: 'site=a', from: '22:00', to: '05:00', timeZone: 'Mars/Olympus' }] },
    ];
    for (const b of bad) {
      const preview = await api.call('POST', '/v1/rollouts/preview', { json: b });
      const create = await api.call('POST', '/v1/rollouts', { json: b });
      expect(create.statusCode, create.body).toBe(400);
      expect(preview.statusCode).toBe(400);
      expect(json(preview)).toEqual(json(create));
    }
    expect((await api.call('POST', '/v1/rollouts/preview', { json: body, token: null })).statusCode).toBe(401);
    expect(json<{ items: unknown[] }>(await api.call('GET', '/v1/rollouts')).items).toEqual([]);
  });
});
