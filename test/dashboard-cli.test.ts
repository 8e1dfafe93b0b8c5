import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dashboardCommand } from '../src/dashboard/cli.js';
import { serveDashboard } from '../src/index.js';
import { fixture, PYTHON, startPool } from './helpers.js';

describe('snakepit dashboard (command)', () => {
  it('starts a pool from an adapter, serves its dashboard, and stops cleanly', async () => {
    const out: string[] = [];
    const err: string[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const status = dashboardCommand(['--adapter', fixture('basic.py'), '--python', PYTHON, '--size', '1'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      stopped,
    });
    const until = Date.now() + 15_000;
    while (out.length === 0 && err.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(err, []);
    const url = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(out[0] ?? '')?.[1];
    assert.ok(url, out.join('\n'));
    const snapshot = (await (await fetch(`${url}snapshot`)).json()) as { workers: unknown[]; state: string };
    assert.equal(snapshot.workers.length, 1);
    assert.equal(snapshot.state, 'ready');
    stop();
    assert.equal(await status, 0);
  });

  it('--attach serves the dashboard a running pool exposes on a Unix socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-dash-'));
    const socket = path.join(dir, 'dashboard.sock');
    const pool = await startPool();
    const exposed = await serveDashboard(pool, { socket, interval: 200 });
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      const out: string[] = [];
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      const token = 'attach-token-0123456789';
      const status = dashboardCommand(['--attach', socket, '--token', token], { out: (l) => out.push(l), err: (l) => out.push(l), stopped });
      const until = Date.now() + 10_000;
      while (out.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const url = /^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)\?token=/.exec(out[0] ?? '')?.[1];
      assert.ok(url, out.join('\n'));
      assert.equal((await fetch(`${url}snapshot`)).status, 401);
      const snap = (await (await fetch(`${url}snapshot?token=${token}`)).json()) as { workers: { pid: number }[] };
      assert.equal(snap.workers[0]?.pid, pool.stats().workerList[0]?.pid);
      const page = await (await fetch(`${url}?token=${token}`)).text();
      assert.match(page, /<title>Snakepit pool<\/title>/);
      // The event stream is forwarded as it comes.
      const events = await fetch(`${url}events?token=${token}`);
      const reader = events.body!.getReader();
      let text = '';
      while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      stop();
      assert.equal(await status, 0);
    } finally {
      await exposed.close();
      await pool.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains wrong arguments with a usage line and status 2', async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l) };
    assert.equal(await dashboardCommand([], io), 2);
    assert.match(err[0] ?? '', /give either --adapter or --attach\nusage: snakepit dashboard/);
    assert.equal(await dashboardCommand(['--adapter', 'x.py', '--bogus'], io), 2);
    assert.equal(await dashboardCommand(['--adapter', 'x.py', '--attach', '/tmp/x.sock'], io), 2);
    assert.equal(await dashboardCommand(['--attach', '/nonexistent/dashboard.sock'], io), 1);
    assert.match(err.at(-1) ?? '', /cannot reach a dashboard at \/nonexistent\/dashboard\.sock/);
    assert.equal(await dashboardCommand(['--adapter', fixture('basic.py'), '--port', 'eighty'], io), 1);
    assert.match(err.at(-1) ?? '', /--port must be a whole number, got "eighty"/);
  });
});
