import { describe, expect, it } from 'vitest';
import { describeViolations, runAxe, seriousViolations, signIn, useBrowser } from '../../support/browser.js';
import { visit } from './console-page.js';
import { everyPage } from './console-pages.js';
import { useConsoleFleet } from './console-rig.js';

/** Test 6 of issue 15: axe-core finds no serious or critical violation on any page (the sign-in page and the open abort dialog included). */
describe('console: accessibility', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

  it('has no serious or critical axe violation on any page, with data on it', async () => {
    const f = fleet();
    const routes = await everyPage(f);
    const { page, errors } = await browser.open();
    const found: string[] = [];
    const check = async (what: string): Promise<void> => {
      const serious = seriousViolations(await runAxe(page));
      if (serious.length > 0) found.push(`${what}:\n${describeViolations(serious)}`);
    };
    await page.goto(`${f.url}/`);
    await page.getByLabel('Operator token').waitFor();
    await check('sign-in');
    await signIn(page, f.url, f.token);
    for (const r of routes) {
      await visit(page, f, r.hash);
      await r.ready(page);
      await check(r.name);
    }
    // The form with its preview filled in, and a dialog: the abort confirmation of a paused rollout.
    await visit(page, f, '#/rollouts/new');
    await page.getByLabel('Release', { exact: true }).selectOption({ label: 'press release 1' });
    await page.getByLabel('Selector', { exact: true }).fill('site=plant-north');
    await page.getByLabel('Waves', { exact: true }).fill('1, 50%, 100%');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('table', { name: 'Wave preview' }).waitFor();
    await check('rollout-new with a preview');
    const target = await f.publishPress(5, true);
    const made = await f.request('POST', '/v1/rollouts', { target, selector: { kind: 'labels', selector: 'site=plant-north' }, waves: [{ kind: 'count', count: 1 }, { kind: 'share', share: 1 }] });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    await visit(page, f, `#/rollouts/${(made.body['rollout'] as { id: string }).id}`);
    await page.getByTestId('rollout-state').filter({ hasText: 'paused' }).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Abort', exact: true }).click();
    await page.getByRole('dialog').waitFor();
    await check('abort dialog');
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    expect(found, found.join('\n\n')).toEqual([]);
    expect(errors).toEqual([]);
  }, 150_000);
});
