/**
 * R4: a worker exceeds its memory limit (RLIMIT_AS: MemoryError; native abort after it; resident set
 * over maxRss). Background load must be untouched.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PythonError, WorkerCrashedError, type RecycleReason } from '../../src/index.js';
import { ControlDir } from '../control.js';
import { fixture, startPool, waitFor } from '../helpers.js';
import { CapacityWatch, Scenario, WorkerPids, steadyLoad, workerPids } from './harness.js';

const MiB = 1024 * 1024;

describe('chaos: memory', () => {
  it('R4: MemoryError at memoryLimit recycles the worker; an abort on OOM is a crash; maxRss recycles', async () => {
    const scenario = new Scenario('R04', 'worker exceeds its memory limit');
    const ctl = new ControlDir();
    const common = { adapter: fixture('chaos.py'), size: 2, env: { CHAOS_DIR: ctl.path }, heartbeatInterval: 200, restart: { maxFailures: 1000 }, timeout: 30_000 };
    // One pool with an address-space limit, one with a resident-set limit, so each recycle has one cause.
    const pool = await startPool({ ...common, memoryLimit: 320 * MiB });
    const rssPool = await startPool({ ...common, maxRss: 120 * MiB });
    const capacity = new CapacityWatch(pool);
    const rssPids = new WorkerPids(rssPool);
    const recycles: RecycleReason[] = [];
    pool.on('workerRecycle', (e) => recycles.push(e.reason));
    rssPool.on('workerRecycle', (e) => recycles.push(e.reason));
    const background = steadyLoad(pool, scenario, { clients: 1, limitMs: 35_000, prefix: 'bg' });
    const rssBackground = steadyLoad(rssPool, scenario, { clients: 1, limitMs: 35_000, prefix: 'rssbg' });
    try {
      for (let i = 0; i < 3; i++) {
        await waitFor(() => pool.state === 'ready' && pool.stats().workers.retiring === 0, 20_000, 'ready');
        const before = workerPids(pool);
        const { error } = await scenario.ledger.track(pool.execute('allocate', { step_mb: 16 }), { limitMs: 35_000 });
        scenario.fault('allocate past memoryLimit (MemoryError)');
        assert.ok(error instanceof PythonError, String(error));
        assert.equal(error.pythonType, 'MemoryError');
        await waitFor(() => !before.every((p) => workerPids(pool).includes(p)) && pool.state === 'ready', 20_000, 'recycled');
      }
      for (let i = 0; i < 2; i++) {
        await waitFor(() => pool.state === 'ready', 20_000, 'ready');
        const at = performance.now();
        const { error } = await scenario.ledger.track(pool.execute('allocate_then_abort', {}), { limitMs: 35_000 });
        scenario.fault('native abort on out-of-memory');
        assert.ok(error instanceof WorkerCrashedError, String(error));
        assert.equal(error.signal, 'SIGABRT');
        capacity.death(error.pid!, at);
        scenario.deathToRejection.push(performance.now() - at);
      }
      for (let i = 0; i < 2; i++) {
        await waitFor(() => rssPool.state === 'ready' && rssPool.stats().workers.retiring === 0, 20_000, 'ready');
        const { value: reported } = await scenario.ledger.track(rssPool.execute<number>('hold', { mb: 160 }), { limitMs: 35_000 });
        const fat = rssPids.host(reported!);
        scenario.fault('resident set over maxRss');
        await waitFor(() => !workerPids(rssPool).includes(fat) && rssPool.state === 'ready', 20_000, 'rss recycle');
      }
      await background.stop();
      await rssBackground.stop();
      await waitFor(() => pool.state === 'ready' && capacity.outstanding === 0, 20_000, 'full capacity');
      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      assert.equal(recycles.filter((r) => r === 'memory').length, 3);
      assert.equal(recycles.filter((r) => r === 'rss').length, 2);
      assert.deepEqual(scenario.ledger.failedByCode, { PYTHON_ERROR: 3, WORKER_CRASHED: 2 }, 'background calls all succeeded');
      scenario.figures.recycles = { memory: 3, rss: 2 };
      scenario.ledger.assertClean('R4');
    } finally {
      scenario.save();
      await pool.destroy();
      await rssPool.destroy();
      ctl.dispose();
    }
  });
});
