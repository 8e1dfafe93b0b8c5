/** R8: a poison request that crashes every worker it reaches fails after a bounded number of crashes. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerCrashedError } from '../../src/index.js';
import { ControlDir } from '../control.js';
import { fixture, startPool, waitFor } from '../helpers.js';
import { CapacityWatch, Scenario, sleep, steadyLoad } from './harness.js';

describe('chaos: poison requests', () => {
  it('R8: idempotent poison fails after retries + 1 crashes, plain poison after one; all else succeeds', async () => {
    const scenario = new Scenario('R08', 'poison request');
    const ctl = new ControlDir();
    const retries = 2;
    const pool = await startPool({
      adapter: fixture('chaos.py'),
      size: 3,
      env: { CHAOS_DIR: ctl.path },
      retries,
      restart: { maxFailures: 1000, backoffMax: 500, stableAfter: 500 },
      timeout: 30_000,
    });
    const capacity = new CapacityWatch(pool);
    pool.on('workerExit', (e) => {
      if (e.reason === 'crash' && e.pid !== undefined) capacity.death(e.pid);
    });
    const load = steadyLoad(pool, scenario, { clients: 4, limitMs: 35_000, idempotentShare: 0.5 });
    try {
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        const { error } = await scenario.ledger.track(pool.execute('poison', { token: `poison${i}` }, { idempotent: true }), { limitMs: 35_000 });
        scenario.fault('idempotent poison call');
        assert.ok(error instanceof WorkerCrashedError, String(error));
        assert.match(error.message, new RegExp(`crashed ${retries + 1} workers`));
        assert.equal(error.retryable, false);
        scenario.deathToRejection.push(performance.now() - t0); // all its crashes, retries included
        await sleep(200);
      }
      for (let i = 0; i < 3; i++) {
        const { error } = await scenario.ledger.track(pool.execute('poison', { token: `plain${i}` }), { limitMs: 35_000 });
        scenario.fault('plain poison call');
        assert.ok(error instanceof WorkerCrashedError);
        assert.equal(error.retryable, true);
        await sleep(200);
      }
      await load.stop();
      await waitFor(() => pool.state === 'ready' && capacity.outstanding === 0, 30_000, 'full capacity');
      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      const runs = ctl.executions();
      for (let i = 0; i < 4; i++) assert.equal(runs.get(`poison${i}`), retries + 1);
      for (let i = 0; i < 3; i++) assert.equal(runs.get(`plain${i}`), 1);
      const duplicates = [...load.tokens.plain, ...load.tokens.idempotent].filter((t) => (runs.get(t) ?? 0) > 1);
      assert.deepEqual(duplicates, [], 'no other call ran twice');
      assert.equal(scenario.ledger.failedByCode.WORKER_CRASHED, 7, 'only the poison calls failed');
      assert.equal(pool.stats().crashes, 4 * (retries + 1) + 3);
      scenario.figures.crashesPerIdempotentPoison = retries + 1;
      scenario.figures.duplicateExecutions = duplicates.length;
      scenario.ledger.assertClean('R8');
    } finally {
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }
  });
});
