/**
 * `minReady`: Pool.start resolves once that many workers are ready, and the pool goes on starting the
 * others; one of those that fails to start is restarted like a crashed worker.
 */
import assert from 'node:assert/strict';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { InvalidOptionsError, type PoolStateEvent, type WorkerRestartEvent } from '../src/index.js';
import { ControlDir } from './control.js';
import { fixture, rejection, START_METHOD, startPool, waitFor } from './helpers.js';

const FAST_RESTART = { backoffInitial: 50, backoffMax: 200, jitter: 0, maxFailures: 10, window: 30_000, stableAfter: 600 };
const ready = (pool: { stats(): { workerList: readonly { state: string }[] } }): number =>
  pool.stats().workerList.filter((w) => w.state === 'ready').length;

describe('minReady', () => {
  it('Pool.start resolves once minReady workers are ready; the others start after it', async () => {
    const pool = await startPool({ adapter: fixture('slow_start.py'), size: 3, minReady: 1, env: { SLOW_START_SECONDS: '1.5' } });
    try {
      const states: PoolStateEvent[] = [];
      pool.on('poolState', (e) => states.push(e));
      assert.equal(pool.state, 'ready', 'workers still on their first start are not missing ones');
      assert.equal(ready(pool), 1, 'Pool.start resolved with only the first worker ready');
      assert.equal(await pool.execute('worker'), '1');
      await waitFor(() => ready(pool) === 3, 15_000, 'every worker ready');
      assert.equal(pool.stats().restarts, 0, 'first starts are not restarts');
      assert.deepEqual(states, [], 'the pool stayed ready throughout');
      const served = new Set(await Promise.all(Array.from({ length: 30 }, () => pool.execute('worker'))));
      assert.ok(served.size > 1, 'calls reach the workers that started later');
    } finally {
      await pool.destroy();
    }
  });

  it('after Pool.start resolved, spawned workers start one CPU fewer at a time than the machine has', async () => {
    const pool = await startPool({ adapter: fixture('slow_start.py'), size: 4, minReady: 1, env: { SLOW_START_SECONDS: '0.4' } });
    try {
      const starting = new Set<number>();
      let most = 0;
      pool.on('workerSpawn', (e) => {
        starting.add(e.workerId);
        most = Math.max(most, starting.size);
      });
      pool.on('workerReady', (e) => starting.delete(e.workerId));
      await waitFor(() => ready(pool) === 4, 15_000, 'every worker ready');
      // Forked workers cost little to start: a fork server starts all of them at once.
      const lanes = START_METHOD === 'forkserver' ? 3 : Math.max(1, Math.min(4, availableParallelism() - 1, 3));
      assert.equal(most, lanes, 'workers starting at once while the pool serves');
    } finally {
      await pool.destroy();
    }
  });

  it('a worker whose first start fails after Pool.start resolved is restarted, and the pool reports it', async () => {
    const ctl = new ControlDir();
    const failFile = path.join(ctl.path, 'fail');
    writeFileSync(failFile, '');
    const pool = await startPool({
      adapter: fixture('slow_start.py'),
      size: 2,
      minReady: 1,
      restart: FAST_RESTART,
      env: { SLOW_START_SECONDS: '0.3', CHAOS_DIR: ctl.path },
    });
    try {
      const restarts: WorkerRestartEvent[] = [];
      pool.on('workerRestart', (e) => restarts.push(e));
      await waitFor(() => pool.state === 'degraded', 10_000, 'degraded once a first start failed');
      assert.equal(await pool.execute('worker'), '1', 'the ready worker serves meanwhile');
      unlinkSync(failFile);
      await waitFor(() => ready(pool) === 2 && pool.state === 'ready', 15_000, 'the failed slot restarted');
      assert.equal(restarts.length, 1);
      assert.ok(pool.stats().restarts >= 1);
    } finally {
      await pool.destroy();
      if (existsSync(failFile)) unlinkSync(failFile);
      ctl.dispose();
    }
  });

  it('a first start that fails before minReady workers are ready rejects Pool.start', async () => {
    const ctl = new ControlDir();
    const failFile = path.join(ctl.path, 'fail');
    writeFileSync(failFile, '');
    try {
      const err = await rejection(
        startPool({ adapter: fixture('slow_start.py'), size: 3, minReady: 2, env: { CHAOS_DIR: ctl.path } }),
      );
      assert.equal((err as { code?: string }).code, 'WORKER_START_FAILED');
      assert.match(String((err as Error).message), /slow_start: told to fail|setup/);
    } finally {
      ctl.dispose();
    }
  });

  it('is checked: an integer from 1 to size', async () => {
    for (const minReady of [0, 3, 1.5, '1']) {
      const err = await rejection(startPool({ adapter: fixture('slow_start.py'), size: 2, minReady: minReady as number }));
      assert.ok(err instanceof InvalidOptionsError, String(err));
      assert.match(err.message, /^options\.minReady must be an integer from 1 to 2/);
    }
  });
});
