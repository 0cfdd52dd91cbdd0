import { describe, expect, it } from 'vitest';
import { signIn, useBrowser } from '../../support/browser.js';
import { waitFor } from '../../support/wait-for.js';
import { action, visit } from './console-page.js';
import { createToken, useConsoleFleet } from './console-rig.js';

const CHANGE_BUTTONS = ['New rollout', 'Start rollout', 'Pause', 'Resume', 'Abort', 'Stop task'];

/** Test 5 of issue 15: a read-only token cannot change anything: the API refuses, and the page shows no button to try. */
describe('console: a read-only token', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

  it('sees every page without a button that changes the fleet, and the API refuses its changes', async () => {
    const f = fleet();
    // Something to change: a rollout stopped at its canary (Resume and Abort apply) and an active learning task (Stop task applies).
    const target = await f.publishPress(4, true);
    const made = await f.request('POST', '/v1/rollouts', { target, selector: { kind: 'labels', selector: 'site=plant-north' }, waves: [{ kind: 'count', count: 1 }, { kind: 'share', share: 1 }] });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const rollout = (made.body['rollout'] as { id: string }).id;
    await waitFor(async () => ((await f.get(`/v1/rollouts/${rollout}`))['rollout'] as { state: string }).state === 'paused', 'the rollout to stop at its canary', 60_000, 200);
    const task = await f.createLearningTask();
    const reader = await createToken(f, 'read-only', 'wall screen');
    expect(await f.get('/v1/me', reader)).toMatchObject({ role: 'read-only', name: 'wall screen' });

    // The server refuses every change it is asked for with this token, and nothing changes.
    const tries: [string, string, unknown][] = [
      ['POST', '/v1/rollouts', { target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }] }],
      ['POST', `/v1/rollouts/${rollout}/resume`, {}],
      ['POST', `/v1/rollouts/${rollout}/abort`, {}],
      ['POST', `/v1/learning/tasks/${task}/stop`, {}],
      ['POST', '/v1/gateways', { id: 'gw-intruder' }],
      ['POST', '/v1/tokens', { role: 'read-write', name: 'escalation' }],
    ];
    for (const [method, path, body] of tries) {
      const r = await f.request(method, path, body, reader);
      expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(403);
    }
    expect(((await f.get(`/v1/rollouts/${rollout}`))['rollout'] as { state: string }).state).toBe('paused');
    expect(((await f.get('/v1/rollouts'))['items'] as unknown[]).length).toBe(1);
    expect(((await f.get(`/v1/learning/tasks/${task}`)) as { state: string }).state).toBe('active');
    // A preview changes nothing, so a reader may ask for one.
    expect((await f.request('POST', '/v1/rollouts/preview', { target, selector: { kind: 'all' }, waves: [{ kind: 'share', share: 1 }] }, reader)).status).toBe(200);

    // The page: first with the read-write token the buttons are there (so their absence below means something) ...
    const pages: [string, string | RegExp, string[]][] = [
      ['#/rollouts', /Rollouts/, ['New rollout']],
      ['#/rollouts/new', /rollout/i, ['Start rollout', 'Preview']],
      [`#/rollouts/${rollout}`, /press/i, ['Resume', 'Abort']],
      [`#/learning/${task}`, /press-ae/, ['Stop task']],
    ];
    const writer = await browser.open();
    await signIn(writer.page, f.url, f.token);
    for (const [hash, h1, buttons] of pages) {
      await visit(writer.page, f, hash, h1);
      for (const name of buttons) await action(writer.page, name).first().waitFor();
    }
    // ... and with the read-only one, the same pages hold none of them.
    const { page, errors } = await browser.open();
    await signIn(page, f.url, reader);
    for (const [hash, h1] of [['#/', /./] as const, ...pages]) {
      await visit(page, f, hash, h1);
      // Its data has come (the rollout's state, the task's rounds) before looking for what is absent.
      if (hash === `#/rollouts/${rollout}`) await page.getByTestId('rollout-state').filter({ hasText: 'paused' }).waitFor();
      for (const name of CHANGE_BUTTONS) expect(await action(page, name).count(), `"${name}" on ${hash}`).toBe(0);
    }
    expect(errors).toEqual([]);
  }, 150_000);
});
