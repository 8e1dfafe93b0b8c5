/** The serving demo page in a real headless Chromium: tokens arrive one by one, batches form. */

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import puppeteer from 'puppeteer-core';
import { startDemo } from '../examples/serving/gateway.js';
import { ROOT } from './helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p));

describe('serving demo in a browser', () => {
  it('streams tokens into the page one by one and shows batched predictions, with no console errors', async () => {
    assert.ok(CHROMIUM, 'a Chromium is installed (scripts/system-packages/browser.txt)');
    const demo = await startDemo(0);
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(String(e)));
      page.on('requestfailed', (r) => {
        if (!r.url().includes('/stream')) problems.push(`request failed: ${r.url()}`);
      });
      await page.goto(demo.url, { waitUntil: 'load' });
      await page.click('#go');
      // Watch the count of tokens: it must pass through intermediate values (one by one, not all at once).
      const counts = new Set<number>();
      const until = Date.now() + 10_000;
      let status = '';
      while (Date.now() < until) {
        counts.add(await page.$$eval('#tokens span', (s) => s.length));
        status = await page.$eval('#status', (e) => e.textContent ?? '');
        if (status === 'done') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status, 'done');
      const words = await page.$$eval('#tokens span', (s) => s.map((e) => e.textContent));
      assert.equal(words[0], 'You');
      assert.ok(words.length >= 10);
      assert.ok([...counts].filter((c) => c > 0 && c < words.length).length >= 3, `tokens appeared one by one (counts seen: ${[...counts].sort((a, b) => a - b).join(',')})`);
      await page.click('#predict');
      await page.waitForFunction('document.querySelectorAll("#scores tr").length === 16', { timeout: 10_000 });
      const batches = await page.$$eval('#scores tr td:nth-child(3)', (tds) => tds.map((td) => Number(td.textContent)));
      assert.ok(batches.some((b) => b > 1), `concurrent requests were batched (batch sizes ${batches.join(',')})`);
      mkdirSync(path.join(ROOT, 'test', 'artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'test', 'artifacts', 'serving-demo.png') });
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      await demo.stop();
    }
  });
});
