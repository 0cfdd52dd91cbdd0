import { describe, expect, it } from 'vitest';
import { signIn, testIdNumber, useBrowser } from '../../support/browser.js';
import { waitFor } from '../../support/wait-for.js';
import { action, tableObjects, testIdText } from './console-page.js';
import { useConsoleFleet } from './console-rig.js';

/** plant-north: gw-00 .. gw-19, all online. */
const SELECTOR = 'site=plant-north';

/** A column's value in a row, by a header that matches (the console names its own columns). */
const column = (row: Record<string, string> | undefined, header: RegExp): string | undefined => Object.entries(row ?? {}).find(([k]) => header.test(k))?.[1];

/**
 * Test 3 of issue 15: a rollout made in the page, of a release that fails its health check on
 * the canary; the page shows the failing gate's numbers and the rollout stopping by itself;
 * abort asks first, and the API agrees with what the page says.
 */
describe('console: rollouts', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

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
