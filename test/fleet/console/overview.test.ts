import { describe, expect, it } from 'vitest';
import { signIn, testIdNumber, useBrowser, waitForLive } from '../../support/browser.js';
import { testIdText } from './console-page.js';
import { DEGRADED, GATEWAYS, OFFLINE, gatewayId, useConsoleFleet } from './console-rig.js';

/** Test 1 of issue 15: sign in; the overview shows the right counts for 50 gateways, 5 offline and 3 degraded. */
describe('console: sign-in and overview', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

  it('refuses a wrong token, signs in with the right one, and counts 50 gateways: 5 offline, 3 degraded, per site as the API does', async () => {
    const f = fleet();
    const { page, errors } = await browser.open();
    await page.goto(`${f.url}/`);
    await page.getByLabel('Operator token').fill(`ewt_${'A'.repeat(43)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(async () => (await page.getByRole('alert').textContent()) ?? '', { timeout: 10_000 }).toMatch(/refused/i);
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);

    await signIn(page, f.url, f.token);
    await expect.poll(() => page.evaluate('Object.keys(sessionStorage).length')).toBeGreaterThan(0);
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Overview', 'Gateways', 'Rollouts', 'Alerts & events', 'Learning', 'Releases']) await expect.poll(() => nav.getByRole('link', { name, exact: true }).count()).toBe(1);
    expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);

    const counts = await f.get('/v1/gateway-counts');
    expect(counts).toMatchObject({ total: GATEWAYS, offline: OFFLINE, degraded: DEGRADED, online: GATEWAYS - OFFLINE - DEGRADED });
    // The page's numbers are the fleet's: wait for them to settle (the live stream may still be bringing the last health reports).
    const want = { total: GATEWAYS, online: GATEWAYS - OFFLINE - DEGRADED, offline: OFFLINE, degraded: DEGRADED, 'never-seen': 0, revoked: 0 };
    await expect.poll(async () => Object.fromEntries(await Promise.all(Object.keys(want).map(async (k) => [k, await testIdNumber(page, `count-${k}`).catch(() => -1)]))), { timeout: 15_000 }).toEqual(want);

    // Per site: the API's gateways grouped by site, against the table's rows.
    const items = (await f.get(`/v1/gateways?limit=${GATEWAYS}`))['items'] as { site: string; status: string }[];
    const bySite = new Map<string, { online: number; offline: number; degraded: number; total: number }>();
    for (const g of items) {
      const s = bySite.get(g.site) ?? { online: 0, offline: 0, degraded: 0, total: 0 };
      if (g.status === 'online' || g.status === 'offline' || g.status === 'degraded') s[g.status] += 1;
      s.total += 1;
      bySite.set(g.site, s);
    }
    expect(bySite.size).toBe(3);
    const table = page.getByRole('table', { name: 'Gateways per site' });
    const rows = async (): Promise<string[][]> => table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim())));
    const expected = [...bySite].sort((a, b) => a[0].localeCompare(b[0])).map(([site, s]) => [site, String(s.online), String(s.offline), String(s.degraded), String(s.total)]);
    await expect.poll(async () => (await rows()).sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? '')), { timeout: 10_000 }).toEqual(expected);

    // Open alerts: alerts whose newest record is not a clear, as the API lists them (asked again
    // at each look: the rig's alert may clear while the page is open, and the page must follow).
    const openAlerts = async (): Promise<number> => {
      const alerts = (await f.get('/v1/events?kind=alert&limit=1000'))['items'] as { gatewayId: string; stream: string; ts: number; data: { alert: number; state: string } }[];
      expect(alerts.length).toBeGreaterThan(0);
      const newest = new Map<string, { ts: number; state: string }>();
      for (const a of alerts) {
        const key = `${a.gatewayId} ${a.stream} ${a.data.alert}`;
        if ((newest.get(key)?.ts ?? -Infinity) <= a.ts) newest.set(key, { ts: a.ts, state: a.data.state });
      }
      return [...newest.values()].filter((s) => s.state !== 'cleared').length;
    };
    await expect.poll(async () => (await testIdNumber(page, 'count-open-alerts').catch(() => -1)) === (await openAlerts()), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => page.getByRole('heading', { name: 'Active rollouts' }).count()).toBe(1);
    await expect.poll(() => page.getByRole('heading', { name: 'Learning tasks' }).count()).toBe(1);

    // Signing out forgets the token.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Operator token').waitFor();
    expect(await page.evaluate('Object.values(sessionStorage).join()')).not.toContain(f.token);
    expect(errors).toEqual([]);
  }, 90_000);

  it('follows the fleet live: a gateway going offline shows without a reload; when the fleet dies and comes back, the page says so, reconnects and catches up', async () => {
    const f = fleet();
    const { page, errors } = await browser.open();
    await signIn(page, f.url, f.token);
    const counts = async (): Promise<Record<string, number>> => Object.fromEntries(await Promise.all(['online', 'offline', 'degraded'].map(async (k) => [k, await testIdNumber(page, `count-${k}`).catch(() => -1)])));
    await expect.poll(counts, { timeout: 10_000 }).toEqual({ online: GATEWAYS - OFFLINE - DEGRADED, offline: OFFLINE, degraded: DEGRADED });
    // A mark that a reload would wipe.
    await page.evaluate('window.edgewiseTestMark = 1');

    await f.stopGateway(gatewayId(0));
    await expect.poll(counts, { timeout: 15_000 }).toEqual({ online: GATEWAYS - OFFLINE - DEGRADED - 1, offline: OFFLINE + 1, degraded: DEGRADED });

    await f.killFleet();
    await expect.poll(() => testIdText(page, 'live-status'), { timeout: 30_000 }).toBe('reconnecting');
    // While the fleet is away another gateway stops; nothing can tell the page until it reconnects.
    await f.stopGateway(gatewayId(1));
    await f.restartFleet();
    await waitForLive(page, 60_000);
    // The fleet starts with every gateway offline and each reconnects by itself; the page follows to the same numbers as the API.
    const want = { online: GATEWAYS - OFFLINE - DEGRADED - 2, offline: OFFLINE + 2, degraded: DEGRADED };
    await expect.poll(async () => (await f.get('/v1/gateway-counts').catch(() => ({}))) as Record<string, number>, { timeout: 60_000, interval: 250 }).toMatchObject(want);
    await expect.poll(counts, { timeout: 15_000 }).toEqual(want);
    expect(await page.evaluate('window.edgewiseTestMark')).toBe(1);
    // Requests failed while the fleet was down; the page itself never threw.
    expect(errors.filter((e) => e.startsWith('uncaught'))).toEqual([]);
  }, 150_000);
});
