import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { AxeResults, Result as AxeViolation } from 'axe-core';
import pngjs from 'pngjs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** Debian's Chromium (scripts/ensure-test-programs.mjs installs it); playwright-core brings no browser of its own. */
export const CHROMIUM = '/usr/lib/chromium/chromium';
/** The size the console's screenshots are taken at (a laptop; the README shows them). */
export const VIEWPORT = { width: 1280, height: 800 } as const;
/** Where screenshots go (gitignored): the repository's test-artifacts/console/. */
export const ARTIFACTS = resolve('test-artifacts', 'console');

const require = createRequire(import.meta.url);

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: the tests may run as root (CI containers), where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** A page and what it said: uncaught errors and console errors (a CSP violation is one). */
export interface TestPage {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly errors: string[];
}

export async function openPage(browser: Browser): Promise<TestPage> {
  // A context per page: its own sessionStorage, so a test starts signed out.
  const context = await browser.newContext({ viewport: VIEWPORT, locale: 'en-GB' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs each failed load without its URL; the response handler below names it.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource:')) errors.push(`console.error: ${m.text()}`);
  });
  page.on('response', (r) => {
    // 401 and 403 are answers the tests ask for (a refused token); anything else at 400+ is a fault.
    if (r.status() >= 400 && r.status() !== 401 && r.status() !== 403) errors.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return { page, context, errors };
}

/**
 * One Chromium per test file (launched before the first test, closed after the last), a fresh
 * page per test (`open()`), closed after each test even when it failed.
 */
export function useBrowser(): { browser: () => Browser; open: () => Promise<TestPage> } {
  let browser: Browser | undefined;
  const opened: TestPage[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterEach(async () => {
    for (const p of opened.splice(0)) await p.context.close().catch(() => undefined);
  });
  afterAll(async () => {
    await browser?.close();
  });
  const get = (): Browser => {
    if (browser === undefined) throw new Error('the browser is not launched (useBrowser() must be called at the top of a describe)');
    return browser;
  };
  return {
    browser: get,
    open: async () => {
      const p = await openPage(get());
      opened.push(p);
      return p;
    },
  };
}

/** The axe-core source, read once. */
let axeSource: string | undefined;

/**
 * Runs axe-core on the page as it is now and returns its violations. axe is evaluated through
 * the DevTools protocol rather than added as a <script>: the console's CSP (script-src 'self')
 * rightly refuses an injected inline script, and the page is tested with that CSP on.
 */
export async function runAxe(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Strings, not functions: this file is compiled without the DOM's types.
  const loaded = (await page.evaluate("typeof window.axe === 'object'")) as boolean;
  if (!loaded) await page.evaluate(`${axeSource}\n;undefined`);
  const results = (await page.evaluate("window.axe.run(document, { resultTypes: ['violations'] })")) as AxeResults;
  return results.violations;
}

/** Violations an operator would be stopped by (axe's "serious" and "critical"). */
export function seriousViolations(violations: readonly AxeViolation[]): AxeViolation[] {
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** One line per violation and the first few elements it names: a failure message a person can act on. */
export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations.map((v) => `${v.impact ?? '?'} ${v.id}: ${v.help} (${v.nodes.length} elements: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')})`).join('\n');
}

/** How varied a picture is: distinct colours and the share of pixels that are not its most common colour. */
export interface PictureVariety {
  readonly width: number;
  readonly height: number;
  readonly distinctColours: number;
  readonly nonDominantShare: number;
}

export function pictureVariety(png: Buffer): PictureVariety {
  const image = pngjs.PNG.sync.read(png);
  const counts = new Map<number, number>();
  const d = image.data;
  for (let i = 0; i < d.length; i += 4) {
    const key = ((d[i] as number) << 16) | ((d[i + 1] as number) << 8) | (d[i + 2] as number);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const pixels = image.width * image.height;
  const dominant = Math.max(...counts.values());
  return { width: image.width, height: image.height, distinctColours: counts.size, nonDominantShare: (pixels - dominant) / pixels };
}

/**
 * A screenshot of the page written to test-artifacts/console/<name>.png, and checked not to
 * be blank: a page that rendered nothing (a white or single-colour screen, a crashed bundle)
 * has a handful of colours and almost every pixel the same. Returns the file's path.
 */
export async function screenshotNotBlank(page: Page, name: string): Promise<string> {
  const file = join(ARTIFACTS, `${name}.png`);
  await mkdir(dirname(file), { recursive: true });
  const png = await page.screenshot({ fullPage: false, animations: 'disabled' });
  await writeFile(file, png);
  const v = pictureVariety(png);
  // Text alone antialiases into dozens of colours; a blank page has 1-3.
  if (v.distinctColours < 16 || v.nonDominantShare < 0.02) {
    throw new Error(`screenshot ${file} looks blank: ${v.distinctColours} distinct colours, ${(v.nonDominantShare * 100).toFixed(2)}% of pixels differ from the most common colour`);
  }
  return file;
}

/**
 * Signs in on the console at `baseUrl` with `token` and waits until the page is signed in and
 * its live stream is open.
 */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/#/`);
  await page.getByLabel('Operator token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ state: 'visible' });
  await waitForLive(page);
}

/** Waits for the live indicator to say `live` (the event stream is open). */
export async function waitForLive(page: Page, timeoutMs = 15_000): Promise<void> {
  await page.getByTestId('live-status').filter({ hasText: /^live$/ }).waitFor({ state: 'visible', timeout: timeoutMs });
}

/** The text of a `data-testid` element as a number (the overview's counts, say). */
export async function testIdNumber(page: Page, testId: string): Promise<number> {
  const text = (await page.getByTestId(testId).textContent()) ?? '';
  // Digits and group separators only: a placeholder ("…", "-") is not a zero.
  if (!/^\s*-?[\d,.\u202f ]*\d\s*$/.test(text)) throw new Error(`data-testid="${testId}" holds "${text}", not a number`);
  const n = Number(text.replace(/[^\d.-]/g, ''));
  return n;
}
