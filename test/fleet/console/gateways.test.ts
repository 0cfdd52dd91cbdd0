import { describe, expect, it } from 'vitest';
import { signIn, testIdNumber, useBrowser } from '../../support/browser.js';
import { waitFor } from '../../support/wait-for.js';
import { action, tableObjects, tableRows, table, testIdText, visit } from './console-page.js';
import { GATEWAYS, ROLES, gatewayId, useConsoleFleet, type ConsoleFleet } from './console-rig.js';

/** A column's value in a row, by a header that matches (the console names its own columns). */
const column = (row: Record<string, string> | undefined, header: RegExp): string | undefined => Object.entries(row ?? {}).find(([k]) => header.test(k))?.[1];

/**
 * Tests 2 and 3 of issue 15 on one fleet and one Chromium (starting the 50-gateway fleet is most
 * of each one's time): releases 1 and 2 of press go out to plant-north's press line first, then
 * the rollout made in the page (release 3, broken) stops at its canary in plant-north.
 */
describe('console gateways and rollouts', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

  /** Test 2 of issue 15: filter the gateways table; open a gateway; its health and releases match the API. */
  describe('console: gateways', () => {
    /** The gateways that get releases 1 then 2 of model press: plant-north's press line. */
    const SELECTOR = 'site=plant-north,line=press';

    async function rollOut(f: ConsoleFleet, target: string): Promise<void> {
      const r = await f.request('POST', '/v1/rollouts', { target, selector: { kind: 'labels', selector: SELECTOR }, waves: [{ kind: 'share', share: 1 }] });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      const id = (r.body['rollout'] as { id: string }).id;
      await waitFor(async () => ((await f.get(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state === 'completed', `rollout of ${target} to complete`, 60_000, 200);
    }

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

  /**
   * Test 3 of issue 15: a rollout made in the page, of a release that fails its health check on
   * the canary; the page shows the failing gate's numbers and the rollout stopping by itself;
   * abort asks first, and the API agrees with what the page says.
   */
  describe('console: rollouts', () => {
    /** plant-north: gw-00 .. gw-19, all online. */
    const SELECTOR = 'site=plant-north';

    it('previews and starts a rollout in the page; the canary fails, the rollout pauses itself with the gate numbers shown; abort with confirmation', async () => {
      const f = fleet();
      const target = await f.publishPress(3, true);
      const { page, errors } = await browser.open();
      await signIn(page, f.url, f.token);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rollouts', exact: true }).click();
      await action(page, 'New rollout').click();
      await expect.poll(() => page.evaluate('location.hash')).toBe('#/rollouts/new');

      await page.getByLabel('Release', { exact: true }).selectOption({ label: 'press release 3' });
      await page.getByLabel('Selector', { exact: true }).fill(SELECTOR);
      await page.getByLabel('Waves', { exact: true }).fill('1, 50%, 100%');
      await page.getByRole('button', { name: 'Preview' }).click();

      // The preview is the fleet's: the same body to POST /v1/rollouts/preview.
      const preview = await f.request('POST', '/v1/rollouts/preview', { target, selector: { kind: 'labels', selector: SELECTOR }, waves: [{ kind: 'count', count: 1 }, { kind: 'share', share: 0.5 }, { kind: 'share', share: 1 }] });
      expect(preview.status, JSON.stringify(preview.body)).toBe(200);
      const waves = preview.body['waves'] as { index: number; size: number; gateways: string[] }[];
      expect(waves.map((w) => w.size)).toEqual([1, 9, 10]);
      await expect.poll(async () => (await tableObjects(page, 'Wave preview')).length, { timeout: 10_000 }).toBe(3);
      const shown = await tableObjects(page, 'Wave preview');
      for (const [i, w] of waves.entries()) {
        const row = Object.values(shown[i] ?? {}).join(' | ');
        expect(row).toMatch(new RegExp(`\\b${w.size}\\b`));
        // The canary is named.
        if (i === 0) expect(row).toContain(w.gateways[0]);
      }

      await page.getByRole('button', { name: 'Start rollout' }).click();
      const hash = await waitFor(async () => {
        const h = (await page.evaluate('location.hash')) as string;
        return /^#\/rollouts\/ro-[0-9a-f]{12}$/.test(h) ? h : undefined;
      }, 'the page to open the new rollout', 15_000);
      const id = hash.slice('#/rollouts/'.length);
      const made = (await f.get(`/v1/rollouts/${id}`)) as { rollout: { target: string; selector: Record<string, unknown> } };
      expect(made.rollout.target).toBe(target);
      expect(made.rollout.selector).toMatchObject({ kind: 'labels', selector: SELECTOR });

      // It stops by itself after the canary, and the page follows live (no reload).
      await expect.poll(() => testIdText(page, 'rollout-state'), { timeout: 90_000, interval: 250 }).toBe('paused');
      const status = (await f.get(`/v1/rollouts/${id}`)) as { rollout: { state: string }; waves: { failed: number; pending: number; total: number }[]; events: { kind: string; detail: { gates?: { gate: string; pass: boolean; value?: number; limit?: number }[] } }[] };
      expect(status.rollout.state).toBe('paused');
      expect(status.waves[0]).toMatchObject({ total: 1, failed: 1 });
      const failed = status.events.find((e) => e.kind === 'gate-failed');
      const gate = failed?.detail.gates?.find((g) => g.gate === 'failure') as { gate: string; pass: boolean; count: number; share: number; limit: number };
      expect(gate).toMatchObject({ pass: false, count: 1, share: 1, limit: 0 });

      // The Waves table: wave 1 with the failure gate's numbers as the driver judged them, the other waves untouched.
      const pct = (x: number): string => `${Number((x * 100).toFixed(1))}%`;
      await expect.poll(async () => column((await tableObjects(page, 'Waves'))[0], /^failure gate$/i), { timeout: 10_000 }).toBe(`${gate.count} (${pct(gate.share)}, max ${pct(gate.limit)}) failed`);
      const shownWaves = await tableObjects(page, 'Waves');
      expect(shownWaves).toHaveLength(3);
      expect(column(shownWaves[0], /^gateways$/i)).toBe('1');
      expect(column(shownWaves[1], /^pending$/i)).toBe(String(status.waves[1]?.pending));
      expect(column(shownWaves[2], /^pending$/i)).toBe(String(status.waves[2]?.pending));
      // The decision that stopped it, with the same numbers.
      expect(await page.getByRole('heading', { name: 'Decisions' }).count()).toBe(1);
      const decisions = (await page.getByRole('list', { name: 'Decisions' }).textContent()) ?? '';
      expect(decisions).toContain(`failure ${gate.count} (${pct(gate.share)}, max ${pct(gate.limit)})`);

      // Abort asks first: Cancel leaves it paused.
      await page.getByRole('button', { name: 'Abort', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect(((await f.get(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state).toBe('paused');
      await page.getByRole('button', { name: 'Abort', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Abort rollout' }).click();
      await expect.poll(() => testIdText(page, 'rollout-state'), { timeout: 15_000 }).toBe('aborted');
      expect(((await f.get(`/v1/rollouts/${id}`))['rollout'] as { state: string }).state).toBe('aborted');
      // Nothing left to press on an aborted rollout.
      for (const name of ['Pause', 'Resume', 'Abort']) expect(await action(page, name).count()).toBe(0);
      // And the overview no longer lists it among the active rollouts.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview', exact: true }).click();
      const active = page.getByRole('list', { name: 'Active rollouts' });
      await active.waitFor();
      expect(await testIdNumber(page, 'count-total')).toBe(50);
      expect(await active.locator(`a[href="#/rollouts/${id}"]`).count()).toBe(0);
      expect(errors).toEqual([]);
    }, 150_000);
  });
});
