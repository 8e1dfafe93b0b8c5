import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser } from 'puppeteer-core';
import { serveDashboard, type Pool } from '../src/index.js';
import { fixture, rejection, ROOT, startPool } from './helpers.js';

// The functions given to page.waitForFunction run in the page, where this exists.
declare const document: { querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null };

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');

describe('dashboard in a real browser', () => {
  let pool: Pool;
  let browser: Browser;

  before(async () => {
    pool = await startPool({ adapter: fixture('observed.py'), size: 2, concurrency: 2 });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  });

  after(async () => {
    await browser?.close();
    await pool?.destroy();
  });

  it('loads without console errors, shows the workers, its counter and charts move within 2 s of calls, recycles appear', async () => {
    const session = pool.session('demo-session');
    await session.execute('work', { n: 1 });
    await rejection(pool.execute('fail', { message: 'shown on the dashboard' }));
    const dashboard = await serveDashboard(pool);
    const page = await browser.newPage();
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${String(e)}`));
    page.on('requestfailed', (r) => {
      if (!r.url().endsWith('/events')) problems.push(`request failed: ${r.url()}`);
    });
    page.on('request', (r) => requests.push(r.url()));
    let running = true;
    const load: Promise<void>[] = [];
    try {
      await page.setViewport({ width: 1280, height: 900 });
      await page.goto(dashboard.url, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('#workers tr[data-worker]', { timeout: 5000 });
      const pids = await page.$$eval('#workers tr[data-worker] td:nth-child(2)', (tds) => tds.map((td) => Number(td.textContent)));
      assert.deepEqual(pids.sort(), pool.stats().workerList.map((w) => w.pid).sort());
      assert.match(await page.$eval('#errors', (e) => e.textContent ?? ''), /PYTHON_ERROR fail .*shown on the dashboard/);
      assert.match(await page.$eval('#errors pre', (e) => e.textContent ?? ''), /Traceback[^]*ValueError: shown on the dashboard/);
      assert.match(await page.$eval('#sessions', (e) => e.textContent ?? ''), /demo-session/);
      const before = {
        calls: await page.$eval('#calls-total', (e) => e.textContent),
        chart: await page.$eval('#chart-calls polyline[data-series="calls"]', (e) => e.getAttribute('points')),
        latency: await page.$eval('#chart-latency polyline[data-series="p50"]', (e) => e.getAttribute('points')),
      };
      const started = Date.now();
      for (let lane = 0; lane < 4; lane++) {
        load.push(
          (async () => {
            while (running) await pool.execute('work', { n: lane });
          })(),
        );
      }
      await page.waitForFunction((c) => document.querySelector('#calls-total')?.textContent !== c, { timeout: 2000 }, before.calls);
      await page.waitForFunction(
        (c, l) =>
          document.querySelector('#chart-calls polyline[data-series="calls"]')?.getAttribute('points') !== c &&
          document.querySelector('#chart-latency polyline[data-series="p50"]')?.getAttribute('points') !== l &&
          Number(document.querySelector('#calls-total')?.textContent) > 0,
        { timeout: Math.max(100, 2000 - (Date.now() - started)) },
        before.chart,
        before.latency,
      );
      // Restarts and recycles appear as they happen.
      await session.close();
      await pool.recycle(pool.stats().workerList[0]!.id);
      await page.waitForFunction(() => /recycled \(manual\)/.test(document.querySelector('#events')?.textContent ?? ''), { timeout: 3000 });
      // Let the charts gather a few seconds of history for the screenshot.
      await new Promise((r) => setTimeout(r, Number(process.env.DASHBOARD_SHOT_SECONDS ?? 2.5) * 1000));
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png') as `${string}.png`, fullPage: true });
      assert.deepEqual(problems, []);
      const origin = new URL(dashboard.url).origin;
      assert.ok(requests.every((u) => u.startsWith(origin)), `requests outside the dashboard: ${requests.join(', ')}`);
    } finally {
      running = false;
      await Promise.all(load);
      await page.close();
      await dashboard.close();
    }
  });

  it('binds 127.0.0.1 by default, requires a token elsewhere, and checks it', async () => {
    const err = await rejection(serveDashboard(pool, { host: '0.0.0.0' }));
    assert.equal(err.code, 'INVALID_OPTIONS');
    assert.match(err.message, /requires a token/);
    const local = await serveDashboard(pool);
    assert.equal(local.host, '127.0.0.1');
    await local.close();
    const token = 'a-secret-of-sufficient-length';
    const guarded = await serveDashboard(pool, { host: '0.0.0.0', token });
    try {
      const base = `http://127.0.0.1:${guarded.port}`;
      assert.equal((await fetch(`${base}/`)).status, 401);
      assert.equal((await fetch(`${base}/metrics?token=wrong-token-of-sufficient-length`)).status, 401);
      const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^snakepit_calls_total\{tool="work",outcome="ok"\} \d+$/m);
      const snap = (await (await fetch(`${base}/snapshot?token=${token}`)).json()) as { workers: unknown[] };
      assert.equal(snap.workers.length, 2);
    } finally {
      await guarded.close();
    }
  });
});
