import { describe, expect, it } from 'vitest';
import { describeViolations, runAxe, seriousViolations, signIn, useBrowser } from '../../support/browser.js';
import { visit } from './console-page.js';
import { everyPage } from './console-pages.js';
import { GATEWAYS, gatewayId, useConsoleFleet } from './console-rig.js';

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

  it('works from the keyboard: sign in, every Tab stop shows its focus, the gateways table moves row by row past the rows in the DOM', async () => {
    const f = fleet();
    const { page, errors } = await browser.open();
    await page.goto(`${f.url}/`);
    await page.getByLabel('Operator token').waitFor();
    // What has the focus, and whether it shows (a visible outline or ring, not the browser's nothing).
    const focused = async (): Promise<{ tag: string; href: string | null; name: string; visible: boolean }> =>
      (await page.evaluate(`(() => {
        const e = document.activeElement;
        if (e === null || e === document.body) return { tag: 'body', href: null, name: '', visible: false };
        const s = getComputedStyle(e);
        const ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || (s.boxShadow !== 'none' && s.boxShadow !== '');
        return { tag: e.tagName.toLowerCase(), href: e.getAttribute('href'), name: (e.getAttribute('aria-label') || e.textContent || e.id || '').trim().slice(0, 40), visible: ring };
      })()`)) as { tag: string; href: string | null; name: string; visible: boolean };
    const tabTo = async (want: (x: Awaited<ReturnType<typeof focused>>) => boolean, what: string): Promise<void> => {
      for (let i = 0; i < 60; i += 1) {
        await page.keyboard.press('Tab');
        const now = await focused();
        expect(now.visible, `focus on <${now.tag}> "${now.name}" is not visible`).toBe(true);
        if (want(now)) return;
      }
      throw new Error(`60 Tab presses never reached ${what}`);
    };
    await tabTo((x) => x.tag === 'input', 'the token box');
    await page.keyboard.type(f.token);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    await page.goto(`${f.url}/#/gateways`);
    await page.getByTestId('gateway-match-count').filter({ hasText: `${GATEWAYS} gateways` }).waitFor();
    await tabTo((x) => x.href === `#/gateways/${gatewayId(0)}`, 'the first gateway in the table');
    // Row by row with the arrow keys, beyond the rows the table first put in the DOM.
    for (let i = 1; i <= 30; i += 1) await page.keyboard.press('ArrowDown');
    await expect.poll(async () => (await focused()).href).toBe(`#/gateways/${gatewayId(30)}`);
    await page.keyboard.press('End');
    await expect.poll(async () => (await focused()).href).toBe(`#/gateways/${gatewayId(GATEWAYS - 1)}`);
    expect((await focused()).visible).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await page.getByRole('heading', { level: 1 }).textContent())?.trim()).toBe(gatewayId(GATEWAYS - 1));
    expect(errors).toEqual([]);
  }, 90_000);
});
