import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, runAxe, screenshotNotBlank, seriousViolations, useBrowser } from './browser.js';
import { listenOnLoopback } from './ports.js';

/** The console's CSP, so the helpers are proven under the same rules as the console. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const PAGES: Record<string, string> = {
  '/blank': '<!doctype html><html lang="en"><head><title>blank</title></head><body></body></html>',
  '/unlabelled': '<!doctype html><html lang="en"><head><title>form</title></head><body><main><h1>Form</h1><input type="text"></main></body></html>',
  '/text': `<!doctype html><html lang="en"><head><title>text</title></head><body><main><h1>Gateways</h1>${'<p>gw-1 online site plant-1 release 3</p>'.repeat(30)}</main></body></html>`,
};

/** The helpers the console tests stand on, checked on pages whose answer is known. */
describe('browser test support', () => {
  const b = useBrowser();
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = PAGES[req.url ?? ''];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP });
      res.end(body ?? 'not found');
    });
    base = `http://127.0.0.1:${await listenOnLoopback(server)}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('runs axe under a strict CSP and finds an input without a label', async () => {
    const { page } = await b.open();
    await page.goto(`${base}/unlabelled`);
    const serious = seriousViolations(await runAxe(page));
    expect(serious.map((v) => v.id), describeViolations(serious)).toContain('label');
  });

  it('passes a page with headed text and no controls', async () => {
    const { page } = await b.open();
    await page.goto(`${base}/text`);
    const serious = seriousViolations(await runAxe(page));
    expect(serious, describeViolations(serious)).toEqual([]);
  });

  it('refuses a blank screenshot and accepts a page of text', async () => {
    const { page } = await b.open();
    await page.goto(`${base}/blank`);
    await expect(screenshotNotBlank(page, 'support-blank')).rejects.toThrow(/looks blank/);
    await page.goto(`${base}/text`);
    await expect(screenshotNotBlank(page, 'support-text')).resolves.toMatch(/support-text\.png$/);
  });
});
