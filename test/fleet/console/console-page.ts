import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import type { ConsoleFleet } from './console-rig.js';

/** The text of each body row of the table (role table or grid) with this accessible name, cell by cell. */
export async function tableRows(page: Page, name: string): Promise<string[][]> {
  return table(page, name)
    .locator('[role=row], tr')
    .evaluateAll((rows) =>
      rows
        // Header rows hold column headers only.
        .filter((r) => r.querySelector('td, [role=cell], [role=gridcell], [role=rowheader]') !== null)
        .map((r) => [...r.querySelectorAll('th, td, [role=cell], [role=gridcell], [role=rowheader]')].map((c) => (c.textContent ?? '').replace(/\s+/g, ' ').trim())),
    );
}

export function table(page: Page, name: string): Locator {
  return page.getByRole('table', { name, exact: true }).or(page.getByRole('grid', { name, exact: true }));
}

/** The column headers' texts of a table, in order. */
export async function tableHeaders(page: Page, name: string): Promise<string[]> {
  return table(page, name)
    .locator('th, [role=columnheader]')
    .evaluateAll((cells) => cells.filter((c) => c.closest('tbody') === null || c.getAttribute('role') === 'columnheader').map((c) => (c.textContent ?? '').replace(/\s+/g, ' ').trim()));
}

/** Rows of a table as objects keyed by its column headers. */
export async function tableObjects(page: Page, name: string): Promise<Record<string, string>[]> {
  const headers = (await tableHeaders(page, name)).map((h) => h.replace(/[▲▼↑↓]/g, '').trim());
  return (await tableRows(page, name)).map((cells) => Object.fromEntries(cells.map((c, i) => [headers[i] ?? String(i), c])));
}

/** Goes to a console route (`#/gateways/gw-01`) of a signed-in page and waits for its one h1. */
export async function visit(page: Page, f: ConsoleFleet, hash: string, h1?: string | RegExp): Promise<void> {
  await page.goto(`${f.url}/${hash}`);
  const heading = page.getByRole('heading', { level: 1 });
  await heading.first().waitFor();
  if (h1 !== undefined) await expect.poll(async () => (await heading.textContent()) ?? '', { timeout: 10_000 }).toMatch(h1);
  expect(await heading.count()).toBe(1);
}

/** The text of a test id, trimmed (empty when absent). */
export async function testIdText(page: Page, id: string): Promise<string> {
  const l = page.getByTestId(id);
  return (await l.count()) === 0 ? '' : ((await l.first().textContent()) ?? '').trim();
}

/**
 * A control by its name, button or link: the contract names "New rollout" a button, and the page
 * makes it a link (it goes to #/rollouts/new), which is the right role for it; either is accepted,
 * and the read-only test looks for both.
 */
export function action(page: Page, name: string): Locator {
  return page.getByRole('button', { name, exact: true }).or(page.getByRole('link', { name, exact: true }));
}
