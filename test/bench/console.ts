import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { Browser, ElementHandle, Page } from 'playwright-core';
import { launchChromium, VIEWPORT } from '../support/browser.js';
import { FleetProcess } from '../support/fleet-process.js';
import { listenOnLoopback } from '../support/ports.js';
import { makeTempDir } from '../support/temp-dir.js';
import { seedGateways, seededSite } from './console-seed.js';
import { median, progress } from './report.js';

/**
 * `npm run bench -- console [--gateways N] [--runs R]`: the console's gateways table in Chromium
 * with N (10,000) gateways in the fleet. For each of several filters (site, label selector,
 * status, release), R times: in page time, from setting the control's value (and its input
 * event) to the match count and the first row showing the answer, plus two animation frames
 * (the frame that shows it is painted); then the same for clearing it. (`domMs` is the part
 * before the frames: the filtering and rendering work itself.) Baseline, same run: a
 * plain page holding the same 10,000 gateways, filtering them with a vanilla-JS loop and
 * rendering as many rows as the console keeps in its DOM, measured the same way. Also the
 * console's first-load transfer (encoded bodies of every response of a fresh load, asking for
 * br and gzip; target < 200 KB) and how long the gateways page takes to show all N.
 */
function arg(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a positive integer, got ${args[i + 1]}`);
  return v;
}

/** A filter as a person sets it: which control, what value, and the API's query for the same. */
interface FilterCase {
  readonly name: string;
  readonly label: 'Site' | 'Label selector' | 'Status' | 'Release';
  readonly value: string;
  /** Query string of GET /v1/gateways for the same filter (the oracle). */
  readonly query: string;
  /** Set before measuring (and left set): the Model box for the release filter. */
  readonly before?: { readonly label: 'Model'; readonly value: string; readonly query: string };
  /** The baseline's predicate, as JS source over a GatewaySummary `g`. */
  readonly plain: string;
}

const CASES: readonly FilterCase[] = [
  { name: 'site', label: 'Site', value: seededSite(7), query: `site=${seededSite(7)}`, plain: `g.site === ${JSON.stringify(seededSite(7))}` },
  { name: 'selector', label: 'Label selector', value: 'line=paint', query: 'selector=line%3Dpaint', plain: `g.labels.line === 'paint'` },
  { name: 'status', label: 'Status', value: 'revoked', query: 'status=revoked', plain: `g.status === 'revoked'` },
  { name: 'release', label: 'Release', value: '3', query: 'model=press&release=3', before: { label: 'Model', value: 'press', query: 'model=press' }, plain: `g.releases.press?.active?.release === 3` },
];

/**
 * Runs in the page: sets the control's value as typing or choosing would (the native setter,
 * then `input` and `change`), and resolves with the ms until the count reads `want` gateways and
 * the first row's link is `first` (null: no row), and two frames have been drawn after that.
 */
const MEASURE = String.raw`async ([control, count, table, value, want, first]) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  const done = () => {
    const n = Number((count.textContent || '').replace(/[^0-9]/g, ''));
    const link = table.querySelector('a[href^="#/gateways/"]');
    return n === want && (first === null ? link === null : link !== null && link.textContent.trim() === first);
  };
  const proto = control instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
  const setter = Object.getOwnPropertyDescriptor(proto, 'value').set;
  const t0 = performance.now();
  setter.call(control, value);
  control.dispatchEvent(new Event('input', { bubbles: true }));
  control.dispatchEvent(new Event('change', { bubbles: true }));
  if (!done()) {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { observer.disconnect(); reject(new Error('no result after 10 s: count ' + count.textContent)); }, 10000);
      const observer = new MutationObserver(() => {
        if (done()) { observer.disconnect(); clearTimeout(timer); resolve(); }
      });
      observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
  }
  const dom = performance.now() - t0;
  await frame();
  await frame();
  return [performance.now() - t0, dom];
}`;

/** The baseline page: a count, a filter box and a table, filtered and rendered by plain JS. */
const PLAIN_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>baseline</title>
<style>body{font:14px system-ui;margin:16px}table{border-collapse:collapse;width:100%}td,th{padding:8px;border-bottom:1px solid #ddd;text-align:left;height:19px}</style></head>
<body><h1>Gateways (plain JS)</h1><label>Filter <input id="f"></label><p><span id="count"></span></p>
<table id="t"><thead><tr><th>Gateway</th><th>Site</th><th>Status</th><th>Labels</th><th>Active releases</th><th>Last seen</th></tr></thead><tbody></tbody></table></body></html>`;

/** Installed in the baseline page: the data, a predicate per filter, and the render on each input. */
const PLAIN_SCRIPT = String.raw`([rows, visible, predicates]) => {
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const tests = Object.fromEntries(Object.entries(predicates).map(([k, src]) => [k, new Function('g', 'return ' + src)]));
  const input = document.getElementById('f');
  const body = document.querySelector('#t tbody');
  const count = document.getElementById('count');
  const render = () => {
    const test = input.value === '' ? null : tests[input.value];
    const out = [];
    for (const g of rows) if (test === null || test(g)) out.push(g);
    count.textContent = out.length + ' gateways';
    let html = '';
    for (const g of out.slice(0, visible)) {
      const labels = Object.entries(g.labels).map(([k, v]) => k + '=' + v).join(', ');
      const rel = Object.entries(g.releases).map(([m, r]) => m + ' ' + (r.active ? r.active.release : '-')).join(', ');
      html += '<tr><td><a href="#/gateways/' + esc(g.id) + '">' + esc(g.id) + '</a></td><td>' + esc(g.site) + '</td><td>' + esc(g.status) + '</td><td>' + esc(labels) + '</td><td>' + esc(rel) + '</td><td>' + esc(g.lastSeenMs) + '</td></tr>';
    }
    body.innerHTML = html;
  };
  input.addEventListener('input', render);
  render();
}`;

type Get = (path: string) => Promise<Record<string, unknown>>;

async function allGateways(get: Get): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let after: string | null = null;
  do {
    const page = await get(`/v1/gateways?limit=1000${after === null ? '' : `&after=${after}`}`);
    out.push(...(page['items'] as Record<string, unknown>[]));
    after = page['next'] as string | null;
  } while (after !== null);
  return out;
}

/** What a filter should show: the API's count and first id for the same query. */
async function expected(get: Get, query: string): Promise<{ count: number; first: string | null }> {
  let count = 0;
  let first: string | null = null;
  let after: string | null = null;
  do {
    const page = await get(`/v1/gateways?limit=1000&${query}${after === null ? '' : `&after=${after}`}`);
    const items = page['items'] as { id: string }[];
    first ??= items[0]?.id ?? null;
    count += items.length;
    after = page['next'] as string | null;
  } while (after !== null);
  return { count, first };
}

/**
 * Calls page-side code given as source: installed once as a global by evaluating it as an
 * expression (through the DevTools protocol, so the console's CSP, which forbids eval, does not
 * apply), then called with the argument. (This file is compiled without the DOM's types.)
 */
async function callInPage(page: Page, name: string, source: string, arg: unknown): Promise<unknown> {
  const installed = (await page.evaluate(`typeof globalThis[${JSON.stringify(name)}] === 'function'`)) as boolean;
  if (!installed) await page.evaluate(`globalThis[${JSON.stringify(name)}] = ${source}; undefined`);
  return page.evaluate(([n, a]) => (globalThis as unknown as Record<string, (x: unknown) => unknown>)[n as string]?.(a), [name, arg] as const);
}

/** [ms to the painted result, ms to the result in the DOM]. */
async function measureBoth(page: Page, control: ElementHandle, count: ElementHandle, table: ElementHandle, value: string, want: { count: number; first: string | null }): Promise<[number, number]> {
  // Only the tab in front gets animation frames at full rate: the console and the baseline take turns.
  await page.bringToFront();
  const ms = await callInPage(page, '__edgewiseMeasure', MEASURE, [control, count, table, value, want.count, want.first]);
  if (!Array.isArray(ms) || typeof ms[0] !== 'number' || typeof ms[1] !== 'number') throw new Error(`the in-page measurement gave ${String(ms)}, not two numbers of ms`);
  return [ms[0], ms[1]];
}

async function measure(page: Page, control: ElementHandle, count: ElementHandle, table: ElementHandle, value: string, want: { count: number; first: string | null }): Promise<number> {
  return (await measureBoth(page, control, count, table, value, want))[0];
}

/** Encoded body bytes of every response of a fresh load of `url` (asking for br and gzip), until the sign-in form shows and nothing is in flight. */
async function firstLoadBytes(browser: Browser, url: string): Promise<{ bytes: number; responses: number }> {
  const context = await browser.newContext({ viewport: VIEWPORT, extraHTTPHeaders: { 'accept-encoding': 'br, gzip' } });
  try {
    const page = await context.newPage();
    const sizes: Promise<number>[] = [];
    let inFlight = 0;
    page.on('request', () => (inFlight += 1));
    const plainAssets: string[] = [];
    page.on('requestfinished', (r) => {
      inFlight -= 1;
      sizes.push(r.sizes().then((s) => s.responseBodySize));
      // The bundles must come compressed (the fleet serves .br/.gz siblings); say which did not.
      void r.response().then(async (res) => {
        if (res !== null && /\/assets\//.test(r.url()) && (await res.headerValue('content-encoding')) === null) plainAssets.push(r.url());
      });
    });
    page.on('requestfailed', () => (inFlight -= 1));
    await page.goto(url, { waitUntil: 'load' });
    await page.getByLabel('Operator token').waitFor();
    const deadline = Date.now() + 10_000;
    while (inFlight > 0 && Date.now() < deadline) await page.waitForTimeout(20);
    const all = await Promise.all(sizes);
    if (plainAssets.length > 0) progress(`warning: sent uncompressed: ${plainAssets.join(', ')}`);
    return { bytes: all.reduce((a, b) => a + b, 0), responses: all.length };
  } finally {
    await context.close();
  }
}

export async function benchConsole(args: readonly string[]): Promise<void> {
  const n = arg(args, '--gateways', 10_000);
  const runs = arg(args, '--runs', 7);
  const dir = await makeTempDir('edgewise-bench-console-');
  const data = join(dir.path, 'fleet');
  let fleet: FleetProcess | undefined;
  let browser: Browser | undefined;
  const plainServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PLAIN_PAGE);
  });
  try {
    const t0 = Date.now();
    const counts = await seedGateways(data, n, progress);
    progress(`seeded ${counts.total} gateways in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const started = await FleetProcess.start(data);
    fleet = started.fleet;
    const url = started.endpoints.localApiUrl.replace(/\/$/, '');
    const token = (await readFile(join(data, 'operator-token'), 'utf8')).trim();
    const get: Get = async (path) => {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const root = await fetch(`${url}/`);
    if (!root.ok) throw new Error(`the fleet does not serve the console at /: ${root.status} ${await root.text()} (npm run build builds it)`);

    browser = await launchChromium();
    const load = await firstLoadBytes(browser, `${url}/`);
    progress(`first load: ${(load.bytes / 1024).toFixed(1)} KB in ${load.responses} responses (encoded bodies, br/gzip asked for; target < 200 KB: ${load.bytes < 200 * 1024 ? 'met' : 'MISSED'})`);

    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.getByLabel('Operator token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const loadStart = Date.now();
    await page.goto(`${url}/#/gateways`);
    await page.getByTestId('gateway-match-count').filter({ hasText: new RegExp(`^${n} gateways$`) }).waitFor({ timeout: 120_000 });
    await page.getByText('(loading…)').waitFor({ state: 'detached', timeout: 120_000 }).catch(() => undefined);
    const tableLoadMs = Date.now() - loadStart;
    progress(`gateways page showing all ${n} after ${tableLoadMs} ms`);
    const table = page.getByRole('table', { name: 'Gateways', exact: true }).or(page.getByRole('grid', { name: 'Gateways', exact: true }));
    const rowsInDom = await table.locator('a[href^="#/gateways/"]').count();
    const tableHandle = (await table.elementHandle()) as ElementHandle;
    const countHandle = (await page.getByTestId('gateway-match-count').elementHandle()) as ElementHandle;
    const everything = await expected(get, '');

    // The baseline page, with the same rows (as the API gives them) and as many rows rendered.
    const plainUrl = `http://127.0.0.1:${await listenOnLoopback(plainServer)}`;
    const plain = await context.newPage();
    await plain.goto(plainUrl);
    const rows = await allGateways(get);
    await callInPage(plain, '__edgewisePlain', PLAIN_SCRIPT, [rows, rowsInDom, Object.fromEntries(CASES.map((c) => [c.name, c.plain]))]);
    const plainControl = (await plain.locator('#f').elementHandle()) as ElementHandle;
    const plainCount = (await plain.locator('#count').elementHandle()) as ElementHandle;
    const plainTable = (await plain.locator('#t').elementHandle()) as ElementHandle;
    progress(`console keeps ${rowsInDom} rows in its DOM; the baseline renders as many`);

    const applied: number[] = [];
    const cleared: number[] = [];
    const baseline: number[] = [];
    const appliedDom: number[] = [];
    const baselineDom: number[] = [];
    const perCase: Record<string, number> = {};
    for (const c of CASES) {
      const before = c.before;
      if (before !== undefined) await measure(page, (await page.getByLabel(before.label, { exact: true }).elementHandle()) as ElementHandle, countHandle, tableHandle, before.value, await expected(get, before.query));
      const base = before === undefined ? everything : await expected(get, before.query);
      const want = await expected(get, c.query);
      const control = (await page.getByLabel(c.label, { exact: true }).elementHandle()) as ElementHandle;
      const mine: number[] = [];
      // One untimed round first: the first filter also compiles the code paths.
      for (let r = 0; r <= runs; r += 1) {
        const [a, aDom] = await measureBoth(page, control, countHandle, tableHandle, c.value, want);
        const b = await measure(page, control, countHandle, tableHandle, '', base);
        const [p, pDom] = await measureBoth(plain, plainControl, plainCount, plainTable, c.name, want);
        await measure(plain, plainControl, plainCount, plainTable, '', everything);
        if (r === 0) continue;
        mine.push(a);
        applied.push(a);
        appliedDom.push(aDom);
        baselineDom.push(pDom);
        cleared.push(b);
        baseline.push(p);
      }
      perCase[`${c.name}Ms`] = Math.round(median(mine) * 10) / 10;
      progress(`${c.name} (${c.label} = ${c.value}: ${want.count} of ${n}): median ${median(mine).toFixed(1)} ms to show, clearing ${median(cleared.slice(-runs)).toFixed(1)} ms; baseline ${median(baseline.slice(-runs)).toFixed(1)} ms`);
      if (before !== undefined) await measure(page, (await page.getByLabel(before.label, { exact: true }).elementHandle()) as ElementHandle, countHandle, tableHandle, '', everything);
    }
    const value = median(applied);
    const base = median(baseline);
    progress(`filter to result: median ${value.toFixed(1)} ms over ${applied.length} runs (target < 100 ms: ${value < 100 ? 'met' : 'MISSED'}); plain-JS baseline ${base.toFixed(1)} ms; in the DOM before the two frames: ${median(appliedDom).toFixed(1)} ms against ${median(baselineDom).toFixed(1)} ms`);
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    process.stdout.write(
      `${JSON.stringify({ bench: 'console', value: r1(value), unit: 'ms', rows: n, baseline: r1(base), ratio: Math.round((value / base) * 100) / 100, clearMs: r1(median(cleared)), domMs: r1(median(appliedDom)), baselineDomMs: r1(median(baselineDom)), ...perCase, runs, firstLoadKB: r1(load.bytes / 1024), firstLoadResponses: load.responses, tableLoadMs, rowsInDom })}\n`,
    );
  } finally {
    await browser?.close().catch(() => undefined);
    await fleet?.kill('SIGTERM');
    plainServer.close();
    await dir.remove();
  }
}
