import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dashboardCommand } from '../src/dashboard/cli.js';
import { fixture, PYTHON } from './helpers.js';

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

  it('explains wrong arguments with a usage line and status 2', async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (l: string) => err.push(l) };
    assert.equal(await dashboardCommand([], io), 2);
    assert.match(err[0] ?? '', /--adapter is required\nusage: snakepit dashboard/);
    assert.equal(await dashboardCommand(['--adapter', 'x.py', '--bogus'], io), 2);
    assert.equal(await dashboardCommand(['--adapter', fixture('basic.py'), '--port', 'eighty'], io), 1);
    assert.match(err.at(-1) ?? '', /--port must be a whole number, got "eighty"/);
  });
});
