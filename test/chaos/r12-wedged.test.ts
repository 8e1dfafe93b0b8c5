/** R12: a worker alive but wedged (SIGSTOP) misses heartbeats and is replaced; a long CPU-bound call is not. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerCrashedError } from '../../src/index.js';
import { ControlDir, running } from '../control.js';
import { fixture, startPool, waitFor } from '../helpers.js';
import { CapacityWatch, Scenario, WorkerPids, signalWorker, steadyLoad } from './harness.js';

// Generous enough that a loaded 2-core machine does not delay a pong past it (no false positive).
const HEARTBEAT = { heartbeatInterval: 100, heartbeatTimeout: 1_500 };

describe('chaos: wedged workers', () => {
  it('R12: SIGSTOPped workers are detected and replaced; long CPU-bound calls are not false positives', async () => {
    const scenario = new Scenario('R12', 'wedged worker (SIGSTOP) vs long CPU-bound call');
    const ctl = new ControlDir();
    const pool = await startPool({
      adapter: fixture('chaos.py'),
      size: 3,
      env: { CHAOS_DIR: ctl.path },
      ...HEARTBEAT,
      killGrace: 500,
      restart: { maxFailures: 1000, stableAfter: 500 },
      timeout: 30_000,
    });
    const capacity = new CapacityWatch(pool);
    const pids = new WorkerPids(pool);
    const load = steadyLoad(pool, scenario, { clients: 2, limitMs: 35_000, prefix: 'bg' });
    try {
      // Long CPU-bound calls that keep answering pings, alongside.
      const spins = Array.from({ length: 2 }, () => scenario.ledger.track(pool.execute<number>('spin', { seconds: 3 }), { limitMs: 35_000 }));
      for (let i = 0; i < 3; i++) {
        await waitFor(() => pool.state === 'ready', 20_000, 'ready');
        const token = `stuck${i}`;
        const call = scenario.ledger.track(pool.execute('work', { token, ms: 60_000 }), { limitMs: 35_000 });
        await waitFor(() => ctl.executedBy(token) !== undefined, 10_000, 'call running');
        const victim = pids.host(ctl.executedBy(token)!);
        const stoppedAt = performance.now();
        signalWorker(victim, 'SIGSTOP');
        capacity.death(victim, stoppedAt);
        scenario.fault('SIGSTOP (wedged)');
        const { error } = await call;
        scenario.deathToRejection.push(performance.now() - stoppedAt);
        assert.ok(error instanceof WorkerCrashedError, String(error));
        assert.match(error.message, /wedged/);
        await waitFor(() => !running(victim), 10_000, 'wedged worker killed');
      }
      const spun = await Promise.all(spins);
      for (const s of spun) assert.ok((s.value ?? 0) > 0, 'a CPU-bound call answering pings completed');
      await load.stop();
      await waitFor(() => pool.state === 'ready' && capacity.outstanding === 0, 20_000, 'full capacity');
      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      assert.equal(pool.stats().wedged, 3, 'exactly the stopped workers were declared wedged');
      assert.deepEqual(scenario.ledger.failedByCode, { WORKER_CRASHED: 3 });
      scenario.figures.heartbeat = HEARTBEAT;
      scenario.ledger.assertClean('R12');
    } finally {
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }

  });
});
