import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { pictureVariety, signIn, useBrowser } from '../../support/browser.js';
import { tableRows, testIdText } from './console-page.js';
import { ROLES, useConsoleFleet } from './console-rig.js';

interface AlertEvent {
  gatewayId: string;
  recordId: string;
  stream: string;
  data: { state: string; channels: string[]; explanation: Record<string, { contribution: number; unit: string }> };
}
interface DefectEvent {
  gatewayId: string;
  recordId: string;
  data: { event: string; className: string; crop: { png: { $base64: string }; width: number; height: number } };
}

/** Test 4 of issue 15: an anomaly alert's explanation chart renders with the right channels; a defect event shows its crop. */
describe('console: alerts and events', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

  it("lists and filters alerts and events; an alert's explanation is a chart of its channels with units; a defect shows its crop", async () => {
    const f = fleet();
    const { page, errors } = await browser.open();
    await signIn(page, f.url, f.token);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts & events', exact: true }).click();
    // The rig's alert may clear at any moment (a new record): each look compares with the API afresh.
    const listed = async (query: string): Promise<number> => ((await f.get(`/v1/events?limit=1000${query}`))['items'] as { kind: string }[]).filter((e) => e.kind !== 'summary').length;
    const rowsMatch = async (query: string): Promise<boolean> => (await tableRows(page, 'Alerts and events')).length === (await listed(query));
    expect(await listed('')).toBeGreaterThanOrEqual(2);
    await expect.poll(() => rowsMatch(''), { timeout: 10_000 }).toBe(true);

    // Kind: alerts only, all from the anomaly gateway.
    await page.getByLabel('Kind').selectOption('alert');
    const alerts = (await f.get('/v1/events?kind=alert'))['items'] as AlertEvent[];
    expect(alerts.length).toBeGreaterThan(0);
    await expect.poll(() => rowsMatch('&kind=alert')).toBe(true);
    for (const row of await tableRows(page, 'Alerts and events')) expect(row.join(' ')).toContain(ROLES.anomaly);

    // The raised alert's page: a chart captioned "Explanation..." with one entry per channel and its unit.
    const raised = alerts.find((a) => a.data.state === 'raised') as AlertEvent;
    expect(raised).toBeDefined();
    await page.locator(`a[href="#/events/${raised.gatewayId}/${encodeURIComponent(raised.recordId)}"]`).first().click();
    const figure = page.locator('figure').filter({ has: page.locator('figcaption', { hasText: /^\s*Explanation/ }) });
    await figure.waitFor();
    const want = Object.entries(raised.data.explanation).map(([channel, e]) => `${channel} (${e.unit})`);
    expect(want).toEqual(expect.arrayContaining(['vibration (g)', 'temperature (degC)']));
    await expect.poll(async () => (await page.getByTestId('explanation-channel').allTextContents()).map((t) => t.trim()).sort()).toEqual([...want].sort());
    // The detector's windows over the span (the stage scores every 250 ms) are drawn as stacked shares over time.
    await expect.poll(() => figure.getByRole('img').count(), { timeout: 20_000 }).toBe(1);
    // The chart drew something: its picture is not one flat colour.
    const chart = pictureVariety(await figure.screenshot());
    expect(chart.distinctColours).toBeGreaterThan(16);
    expect(chart.nonDominantShare).toBeGreaterThan(0.02);

    // The defect event: the crop the gateway made, decoded by the browser at its size.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Alerts & events', exact: true }).click();
    await page.getByLabel('Kind').selectOption('event');
    await page.getByLabel('Gateway').fill(ROLES.vision);
    const defect = ((await f.get(`/v1/events?kind=event&gateway=${ROLES.vision}`))['items'] as DefectEvent[])[0] as DefectEvent;
    expect(defect.data.event).toBe('defect');
    await expect.poll(async () => (await tableRows(page, 'Alerts and events')).length).toBe(1);
    await page.locator(`a[href="#/events/${defect.gatewayId}/${encodeURIComponent(defect.recordId)}"]`).first().click();
    const img = page.getByAltText('Crop of the defect');
    await img.waitFor();
    await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(defect.data.crop.width);
    expect(await img.evaluate((el) => (el as unknown as { naturalHeight: number }).naturalHeight)).toBe(defect.data.crop.height);
    // The same pixels the gateway encoded.
    const sent = pngjs.PNG.sync.read(Buffer.from(defect.data.crop.png.$base64, 'base64'));
    expect(sent.width).toBe(defect.data.crop.width);
    expect(await testIdText(page, 'explanation-channel')).toBe('');
    expect(((await page.locator('body').textContent()) ?? '')).toContain(defect.data.className);
    expect(errors).toEqual([]);
  }, 120_000);
});
