import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { tableRows, testIdText } from './console-page.js';
import { waitFor } from '../../support/wait-for.js';
import { ROLES, type ConsoleFleet } from './console-rig.js';

/** A console route and the name its artifacts get. */
export interface ConsoleRoute {
  readonly name: string;
  readonly hash: string;
  /** Resolves when the page shows its data (not just its frame). */
  readonly ready: (page: Page) => Promise<void>;
}

const poll = { timeout: 15_000 };
const rowsIn = (name: string) => async (page: Page): Promise<void> => {
  await expect.poll(async () => (await tableRows(page, name)).length, poll).toBeGreaterThan(0);
};
/** A captioned figure whose chart has drawn (it has lines to draw once a few samples are in). */
const chartIn = (caption: RegExp) => async (page: Page): Promise<void> => {
  const figure = page.locator('figure').filter({ has: page.locator('figcaption', { hasText: caption }) });
  await expect.poll(() => figure.getByRole('img').count(), { timeout: 20_000 }).toBeGreaterThan(0);
};
const testId = (id: string, text: RegExp) => async (page: Page): Promise<void> => {
  await expect.poll(() => testIdText(page, id), poll).toMatch(text);
};

/**
 * Gives every page of the console something to show, and lists them: release 1 of press rolled
 * out to plant-east's online gateways (a completed rollout, releases on gateways), a learning task,
 * the anomaly alert and the defect event the rig makes. Returns one route per page.
 */
export async function everyPage(f: ConsoleFleet): Promise<ConsoleRoute[]> {
  const target = await f.publishPress(1);
  const r = await f.request('POST', '/v1/rollouts', { target, selector: { kind: 'ids', ids: [...ROLES.degraded, ROLES.anomaly, ROLES.vision] }, waves: [{ kind: 'count', count: 1 }, { kind: 'share', share: 1 }] });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const rollout = (r.body['rollout'] as { id: string }).id;
  await waitFor(async () => ((await f.get(`/v1/rollouts/${rollout}`))['rollout'] as { state: string }).state === 'completed', 'the rollout to complete', 60_000, 200);
  const task = await f.createLearningTask();
  const alert = ((await f.get(`/v1/events?kind=alert&gateway=${ROLES.anomaly}`))['items'] as { recordId: string; data: { state: string } }[]).find((e) => e.data.state === 'raised');
  const defect = ((await f.get(`/v1/events?kind=event&gateway=${ROLES.vision}`))['items'] as { recordId: string }[])[0];
  if (alert === undefined || defect === undefined) throw new Error('the rig made no alert or no defect event');
  return [
    { name: 'overview', hash: '#/', ready: async (page) => (await testId('count-total', /^50$/)(page), testId('count-open-alerts', /^\d+$/)(page)) },
    { name: 'gateways', hash: '#/gateways', ready: testId('gateway-match-count', /^50 gateways$/) },
    { name: 'gateway', hash: `#/gateways/${ROLES.anomaly}`, ready: async (page) => (await testId('gateway-status', /^online$/)(page), chartIn(/^\s*Metrics/)(page)) },
    { name: 'gateway-degraded', hash: `#/gateways/${ROLES.degraded[0]}`, ready: testId('health-reason', /motor-ae/) },
    { name: 'rollouts', hash: '#/rollouts', ready: async (page) => page.locator(`a[href="#/rollouts/${rollout}"]`).first().waitFor() },
    { name: 'rollout-new', hash: '#/rollouts/new', ready: async (page) => expect.poll(() => page.getByLabel('Release', { exact: true }).locator('option').count(), poll).toBeGreaterThan(0) },
    { name: 'rollout', hash: `#/rollouts/${rollout}`, ready: testId('rollout-state', /^completed$/) },
    { name: 'events', hash: '#/events', ready: rowsIn('Alerts and events') },
    { name: 'event-anomaly', hash: `#/events/${ROLES.anomaly}/${encodeURIComponent(alert.recordId)}`, ready: async (page) => (await testId('explanation-channel', /vibration/)(page), chartIn(/^\s*Explanation/)(page)) },
    { name: 'event-defect', hash: `#/events/${ROLES.vision}/${encodeURIComponent(defect.recordId)}`, ready: async (page) => expect.poll(() => page.getByAltText('Crop of the defect').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), poll).toBeGreaterThan(0) },
    { name: 'learning', hash: '#/learning', ready: rowsIn('Learning tasks') },
    { name: 'learning-task', hash: `#/learning/${task}`, ready: rowsIn('Rounds') },
    { name: 'releases', hash: '#/releases', ready: rowsIn('Releases') },
  ];
}
