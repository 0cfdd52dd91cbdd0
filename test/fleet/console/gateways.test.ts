import { describe, expect, it } from 'vitest';
import { signIn, useBrowser } from '../../support/browser.js';
import { waitFor } from '../../support/wait-for.js';
import { tableObjects, tableRows, table, testIdText, visit } from './console-page.js';
import { GATEWAYS, ROLES, gatewayId, useConsoleFleet, type ConsoleFleet } from './console-rig.js';

/** The gateways that get releases 1 then 2 of model press: plant-north's press line. */
const SELECTOR = 'site=plant-north,line=press';

async function rollOut(f: ConsoleFleet, target: string): Promise<void> {
  const r = await f.request('POST', '/v1/rollouts', { target, selector: { kind: 'labels', selector: SELECTOR }, waves: [{ kind: 'share', share: 1 }] });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const id = (r.body['rollout'] as { id: string }).id;
  await waitFor(async () => ((await f.get(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state === 'completed', `rollout of ${target} to complete`, 60_000, 200);
}

/** Test 2 of issue 15: filter the gateways table; open a gateway; its health and releases match the API. */
describe('console: gateways', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

  it('filters by status, labels, site and release; sorts; a gateway page shows the health and releases the API has', async () => {
    const f = fleet();
    await rollOut(f, await f.publishPress(1));
    await rollOut(f, await f.publishPress(2));
    const upgraded = ((await f.get(`/v1/gateways?selector=${encodeURIComponent(SELECTOR)}`))['items'] as { id: string }[]).map((g) => g.id);
    expect(upgraded).toHaveLength(10);
    await waitFor(async () => ((await f.get(`/v1/gateways?model=press&release=2`))['items'] as unknown[]).length === 10, 'ten gateways reporting release 2 active', 30_000, 200);

    const { page, errors } = await browser.open();
    await signIn(page, f.url, f.token);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Gateways', exact: true }).click();
    const count = (): Promise<string> => testIdText(page, 'gateway-match-count');
    await expect.poll(count, { timeout: 10_000 }).toBe(`${GATEWAYS} gateways`);
    const grid = table(page, 'Gateways');
    // ARIA counts the header row too.
    expect(await grid.getAttribute('aria-rowcount')).toBe(String(GATEWAYS + 1));
    // Virtualised: not every one of the 50 rows is in the DOM at 1280x800.
    const inDom = (await tableRows(page, 'Gateways')).length;
    expect(inDom).toBeGreaterThan(5);
    expect(inDom).toBeLessThan(GATEWAYS);
    const ids = async (): Promise<string[]> => (await tableRows(page, 'Gateways')).map((r) => r[0] ?? '');

    // Status: the three degraded ones.
    await page.getByLabel('Status').selectOption('degraded');
    await expect.poll(count).toBe('3 gateways');
    await expect.poll(ids).toEqual([...ROLES.degraded]);
    expect(await grid.getAttribute('aria-rowcount')).toBe('4');
    await page.getByLabel('Status').selectOption({ index: 0 });
    await expect.poll(count).toBe(`${GATEWAYS} gateways`);

    // Labels and site, against the API's answer to the same filter.
    await page.getByLabel('Label selector').fill('line=stamp');
    await page.getByLabel('Site').fill('plant-south');
    const api = ((await f.get(`/v1/gateways?selector=line%3Dstamp&site=plant-south`))['items'] as { id: string }[]).map((g) => g.id);
    expect(api.length).toBeGreaterThan(3);
    await expect.poll(count).toBe(`${api.length} gateways`);
    await expect.poll(ids).toEqual(api);
    await page.getByLabel('Label selector').fill('');
    await page.getByLabel('Site').fill('');

    // Release: model press, release 2.
    await page.getByLabel('Model').fill('press');
    await page.getByLabel('Release').fill('2');
    await expect.poll(count).toBe('10 gateways');
    await expect.poll(ids).toEqual(upgraded);
    await page.getByLabel('Model').fill('');
    await page.getByLabel('Release').fill('');
    await expect.poll(count).toBe(`${GATEWAYS} gateways`);

    // Sorting: the id column's header is a button; twice puts the last id first.
    const idHeader = grid.getByRole('button', { name: /^Gateway/ }).first();
    await idHeader.click();
    const first = (await ids())[0];
    await idHeader.click();
    await expect.poll(async () => (await ids())[0]).not.toBe(first);
    expect([gatewayId(0), gatewayId(GATEWAYS - 1)]).toContain((await ids())[0]);

    // A gateway with releases: its page against GET /v1/gateways/:id.
    await page.getByLabel('Model').fill('press');
    await page.getByRole('link', { name: upgraded[0], exact: true }).click();
    await expect.poll(() => page.evaluate('location.hash')).toBe(`#/gateways/${upgraded[0]}`);
    const detail = (await f.get(`/v1/gateways/${upgraded[0]}`)) as { status: string; releases: Record<string, { active: { release: number } | null; standby: { release: number } | null }>; updateSteps: { step: string }[] };
    await expect.poll(async () => (await page.getByRole('heading', { level: 1 }).textContent())?.trim()).toBe(upgraded[0]);
    await expect.poll(() => testIdText(page, 'gateway-status')).toBe(detail.status);
    expect(detail.releases['press']).toMatchObject({ active: { release: 2 }, standby: { release: 1 } });
    await expect.poll(() => tableObjects(page, 'Releases')).toEqual([expect.objectContaining({ Model: 'press', Active: expect.stringMatching(/\b2\b/), Standby: expect.stringMatching(/\b1\b/) })]);
    // Update history: every step the fleet has, the activation of release 2 among them.
    const history = await tableRows(page, 'Update history');
    expect(history.length).toBe(detail.updateSteps.length);
    expect(history.some((cells) => cells.some((c) => /activate/.test(c)) && cells.some((c) => /\b2\b/.test(c)))).toBe(true);
    expect(await page.getByRole('heading', { name: 'Recent alerts and events' }).count()).toBe(1);
    await expect.poll(() => page.locator('figure figcaption', { hasText: 'Metrics' }).count()).toBe(1);
    // The fleet samples health every second here: the chart draws lines once it has a few (the page reloads them as the gateway reports).
    const metricsFigure = page.locator('figure').filter({ has: page.locator('figcaption', { hasText: 'Metrics' }) });
    await expect.poll(() => metricsFigure.getByRole('img').count(), { timeout: 20_000 }).toBe(1);

    // A degraded gateway: its reasons, word for word.
    const degraded = (await f.get(`/v1/gateways/${ROLES.degraded[0]}`)) as { status: string; health: { reasons: string[] } };
    await visit(page, f, `#/gateways/${ROLES.degraded[0]}`, ROLES.degraded[0]);
    await expect.poll(() => testIdText(page, 'gateway-status')).toBe('degraded');
    expect(degraded.health.reasons.length).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('health-reason').allTextContents().then((t) => t.map((s) => s.trim()))).toEqual(degraded.health.reasons);
    // An offline one says so.
    await visit(page, f, `#/gateways/${ROLES.offline[0]}`, ROLES.offline[0]);
    await expect.poll(() => testIdText(page, 'gateway-status')).toBe('offline');
    expect(errors).toEqual([]);
  }, 150_000);
});
