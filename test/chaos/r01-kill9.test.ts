/**
 * R1: kill -9 busy workers many times under steady load; R9: every worker crashes at once.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pool } from '../../src/index.js';
import { ControlDir } from '../control.js';
import { fixture, startPool, waitFor } from '../helpers.js';
import { CapacityWatch, Scenario, pick, randomBetween, signalWorker, sleep, steadyLoad, workerPids } from './harness.js';

const SIZE = 3;
const RESTART = { backoffInitial: 50, backoffMax: 500, maxFailures: 100_000, window: 60_000, stableAfter: 1_000 };

async function chaosPool(ctl: ControlDir): Promise<Pool> {
  return startPool({ adapter: fixture('chaos.py'), size: SIZE, env: { CHAOS_DIR: ctl.path }, restart: RESTART, timeout: 30_000 });
}

/** Crash errors name the dead worker's pid: death-to-rejection is measured from the kill of that pid. */
function rejectionTimer(scenario: Scenario): { killed: Map<number, number>; onError: (err: { code: string; pid?: number }) => void } {
  const killed = new Map<number, number>();
  return {
    killed,
    onError: (err) => {
      if (err.code !== 'WORKER_CRASHED' || err.pid === undefined) return;
      const at = killed.get(err.pid);
      if (at !== undefined) scenario.deathToRejection.push(performance.now() - at);
    },
  };
}

describe('chaos: killed workers', () => {
  it('R1: kill -9 busy workers many times under steady load', async () => {
    const scenario = new Scenario('R01', 'kill -9 busy workers under steady load');
    const ctl = new ControlDir();
    const pool = await chaosPool(ctl);
    const capacity = new CapacityWatch(pool);
    const timer = rejectionTimer(scenario);
    let exhausted = 0;
    const load = steadyLoad(pool, scenario, {
      clients: 6,
      idempotentShare: 0.5,
      limitMs: 30_000 + 5_000,
      onError: (err, idempotent) => {
        timer.onError(err);
        if (idempotent) {
          assert.match(err.message, /crashed 3 workers/, 'an idempotent call fails only once its retries are spent');
          exhausted++;
        }
      },
    });
    try {
      const until = performance.now() + 20_000;
      while (performance.now() < until) {
        await sleep(randomBetween(200, 600));
        const victim = pick(workerPids(pool, true));
        if (victim === undefined) continue;
        timer.killed.set(victim, performance.now());
        capacity.death(victim);
        signalWorker(victim, 'SIGKILL');
        scenario.fault('SIGKILL busy worker');
      }
      await load.stop();
      await waitFor(() => pool.state === 'ready' && pool.stats().workers.ready === SIZE, 30_000, 'full capacity');
      await waitFor(() => capacity.outstanding === 0, 10_000, 'capacity figures');
      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      const kills = scenario.faults['SIGKILL busy worker'] ?? 0;
      const crashed = scenario.ledger.failedByCode.WORKER_CRASHED ?? 0;
      assert.ok(kills >= 15, `only ${kills} kills`);
      assert.deepEqual(Object.keys(scenario.ledger.failedByCode).filter((c) => c !== 'WORKER_CRASHED'), [], 'only crash errors');
      assert.ok(crashed <= kills, `${crashed} crash errors for ${kills} kills: a call that was not running failed`);
      // At most once: no plain (non-idempotent) call ran twice.
      const runs = ctl.executions();
      const duplicates = [...load.tokens.plain].filter((t) => (runs.get(t) ?? 0) > 1);
      assert.deepEqual(duplicates, []);
      const retried = [...load.tokens.idempotent].filter((t) => (runs.get(t) ?? 0) > 1).length;
      scenario.figures.kills = kills;
      scenario.figures.duplicateExecutions = duplicates.length;
      scenario.figures.idempotentCallsRetried = retried;
      scenario.figures.idempotentRetriesExhausted = exhausted;
      scenario.figures.poolStats = { crashes: pool.stats().crashes, restarts: pool.stats().restarts, retries: pool.stats().retries };
      scenario.ledger.assertClean('R1');
      assert.equal(pool.stats().crashes, kills);
    } finally {
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }
  });

  it('R9: every worker crashes at once, repeatedly; the pool never accepts work it cannot run', async () => {
    const scenario = new Scenario('R09', 'every worker crashes at once');
    const ctl = new ControlDir();
    const pool = await chaosPool(ctl);
    const capacity = new CapacityWatch(pool);
    const timer = rejectionTimer(scenario);
    let violations = 0;
    const invariant = (): void => {
      const s = pool.stats();
      const accepting = s.state === 'ready' || s.state === 'degraded';
      if (accepting && s.workers.ready + s.workers.starting + s.workers.retiring + s.pendingRestarts === 0) violations++;
    };
    pool.on('poolState', invariant);
    const sampler = setInterval(invariant, 5);
    const load = steadyLoad(pool, scenario, { clients: 4, limitMs: 35_000, onError: timer.onError });
    try {
      for (let round = 0; round < 6; round++) {
        await sleep(300);
        const now = performance.now();
        for (const pid of workerPids(pool)) {
          timer.killed.set(pid, now);
          capacity.death(pid, now);
          signalWorker(pid, 'SIGKILL');
          scenario.fault('SIGKILL every worker');
        }
        await waitFor(() => pool.state === 'ready' && pool.stats().workers.ready === SIZE, 30_000, 'recovery');
      }
      await load.stop();
      await waitFor(() => capacity.outstanding === 0, 10_000, 'capacity figures');
      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      assert.equal(violations, 0, 'the pool accepted calls with no worker and no restart pending');
      const kills = scenario.faults['SIGKILL every worker'] ?? 0;
      assert.ok((scenario.ledger.failedByCode.WORKER_CRASHED ?? 0) <= kills);
      assert.deepEqual(Object.keys(scenario.ledger.failedByCode).filter((c) => c !== 'WORKER_CRASHED'), []);
      assert.ok(scenario.ledger.ok > 0);
      scenario.figures.rounds = 6;
      scenario.figures.invariantViolations = violations;
      scenario.ledger.assertClean('R9');
    } finally {
      clearInterval(sampler);
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }
  });
});
