/**
 * R6: the adapter fails at import or setup (respawns bounded with backoff, no call hangs);
 * R7: crash loop under load (backoff, the breaker opens, calls are rejected fast, recovery after a
 * stable period).
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pool, PoolFailedError, WorkerStartError, type PoolStateEvent } from '../../src/index.js';
import { ControlDir } from '../control.js';
import { PYTHON, START_METHOD, fixture, rejection, startPool, waitFor } from '../helpers.js';
import { Scenario, percentile, signalWorker, sleep, steadyLoad, workerPids } from './harness.js';

const RESTART = { backoffInitial: 100, backoffMax: 800, jitter: 0.2, maxFailures: 6, window: 20_000, stableAfter: 1_500 };

describe('chaos: crash loops', () => {
  it('R6: a failing import or setup rejects start with the traceback; respawns are bounded; nothing hangs', async () => {
    const scenario = new Scenario('R06', 'adapter fails at import or setup');
    const ctl = new ControlDir();
    try {
      // At start: Pool.start rejects with the Python traceback, for import and for setup.
      for (const flag of ['fail_import', 'fail_setup'] as const) {
        ctl.set(flag);
        const t0 = performance.now();
        const err = await rejection(
          Pool.start({ adapter: fixture('chaos.py'), python: PYTHON, size: 2, env: { CHAOS_DIR: ctl.path }, restart: RESTART }),
        );
        scenario.fault(`${flag} at start`);
        assert.ok(err instanceof WorkerStartError, String(err));
        assert.equal(err.phase, flag === 'fail_import' ? 'import' : 'setup');
        assert.match(err.pythonTraceback, new RegExp(`chaos: ${flag} is set`));
        scenario.figures[`startRejectMs_${flag}`] = Math.round(performance.now() - t0);
        ctl.clear(flag);
      }
      // After start: replacements fail; their spawns back off; queued calls end with POOL_FAILED.
      // One slot, so its backoff sequence shows in the gaps between spawns.
      const pool = await startPool({
        adapter: fixture('chaos.py'),
        size: 1,
        env: { CHAOS_DIR: ctl.path },
        restart: { ...RESTART, maxFailures: 7, backoffMax: 1_600 },
        timeout: 60_000,
      });
      try {
        const spawns: number[] = [];
        pool.on('workerSpawn', () => spawns.push(performance.now()));
        // A forked worker does not import the adapter (its zygote did): there, setup() fails instead.
        const respawnFault = START_METHOD === 'forkserver' ? 'fail_setup' : 'fail_import';
        ctl.set(respawnFault);
        const killedAt = performance.now();
        for (const pid of workerPids(pool)) signalWorker(pid, 'SIGKILL');
        scenario.fault(`SIGKILL then ${respawnFault} on respawn`);
        await waitFor(() => pool.state === 'degraded', 10_000, 'degraded');
        const queued = Array.from({ length: 5 }, (_, i) => scenario.ledger.track(pool.execute('work', { token: `q${i}` }), { limitMs: 65_000 }));
        const outcomes = await Promise.all(queued);
        const failedAt = performance.now();
        for (const { error } of outcomes) {
          assert.ok(error instanceof PoolFailedError, String(error));
          assert.match(String((error.cause as Error).message), /fail_import|fail_setup|exited|killed/);
        }
        assert.equal(pool.state, 'failed');
        const gaps = spawns.slice(1).map((t, i) => Math.round(t - spawns[i]!));
        scenario.figures.spawnGapsMs = gaps;
        // Backoff 100, 200, 400, 800, 1600 ms (± 20%) on top of each failed start: the gaps grow.
        assert.ok(gaps.length >= 4, `spawn gaps ${gaps.join(', ')}`);
        assert.ok(gaps.at(-1)! > gaps[0]! + 600, `backoff did not grow: ${gaps.join(', ')}`);
        scenario.figures.queuedCallsFailedAfterMs = Math.round(failedAt - killedAt);
        // While failed: probes only at backoffMax pace.
        const before = spawns.length;
        await sleep(2_000);
        const probes = spawns.length - before;
        scenario.figures.probesIn2s = probes;
        assert.ok(probes <= 2 * Math.ceil(2_000 / (RESTART.backoffMax * (1 - RESTART.jitter))) + 2, `${probes} probes in 2 s`);
        assert.equal(ctl.executions().size, 0, 'no queued call ever ran');
        ctl.clear(respawnFault);
        const t0 = performance.now();
        await waitFor(() => pool.state === 'ready', 30_000, 'recovery');
        scenario.figures.recoveryAfterFixMs = Math.round(performance.now() - t0);
        const { value } = await scenario.ledger.track(pool.execute<{ token: string }>('work', { token: 'after' }), { limitMs: 35_000 });
        assert.equal(value?.token, 'after');
      } finally {
        await pool.destroy();
      }
      await scenario.ledger.drain();
      assert.deepEqual(scenario.ledger.failedByCode, { POOL_FAILED: 5 });
      scenario.ledger.assertClean('R6');
    } finally {
      scenario.save();
      ctl.dispose();
    }
  });

  it('R7: a crash loop under load opens the breaker; calls are rejected fast; the pool recovers', async () => {
    const scenario = new Scenario('R07', 'crash loop under load');
    const ctl = new ControlDir();
    const pool = await startPool({ adapter: fixture('chaos.py'), size: 2, env: { CHAOS_DIR: ctl.path }, restart: RESTART, timeout: 30_000 });
    const states: PoolStateEvent[] = [];
    pool.on('poolState', (e) => states.push(e));
    const restartDelays: number[] = [];
    pool.on('workerRestart', (e) => restartDelays.push(e.delayMs));
    const fastRejections: number[] = [];
    try {
      const load = steadyLoad(pool, scenario, { clients: 4, limitMs: 35_000 });
      await sleep(500);
      ctl.set('crash_on_call');
      scenario.fault('every call crashes its worker');
      await waitFor(() => pool.state === 'failed', 30_000, 'breaker open');
      const failedState = states.find((s) => s.to === 'failed')!;
      assert.match(failedState.reason ?? '', /crash loop/);
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        const { error } = await scenario.ledger.track(pool.execute('work', {}), { limitMs: 35_000 });
        fastRejections.push(performance.now() - t);
        assert.equal(error?.code, 'POOL_FAILED');
      }
      ctl.clear('crash_on_call');
      const t0 = performance.now();
      await waitFor(() => pool.state === 'ready', 30_000, 'recovery');
      scenario.figures.recoveryAfterFixMs = Math.round(performance.now() - t0);
      await sleep(1_000);
      const okBefore = scenario.ledger.ok;
      await sleep(1_000);
      assert.ok(scenario.ledger.ok > okBefore, 'calls succeed again after recovery');
      await load.stop();
      await scenario.ledger.drain();
      const crashed = scenario.ledger.failedByCode.WORKER_CRASHED ?? 0;
      assert.ok(crashed >= RESTART.maxFailures - 2, `${crashed} crashes`);
      assert.deepEqual(Object.keys(scenario.ledger.failedByCode).sort(), ['POOL_FAILED', 'WORKER_CRASHED']);
      assert.equal(pool.stats().breakerTrips, 1);
      scenario.figures.crashesBeforeBreaker = pool.stats().crashes;
      scenario.figures.restartDelaysMs = restartDelays;
      scenario.figures.failedRejection_p50_ms = percentile(fastRejections, 50);
      scenario.figures.failedRejection_p99_ms = percentile(fastRejections, 99);
      scenario.figures.states = states.map((s) => s.to);
      scenario.ledger.assertClean('R7');
    } finally {
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }
  });
});
