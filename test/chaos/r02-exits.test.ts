/**
 * R2: exit with status 0 mid-request; R3: SIGSEGV / SIGABRT; plus garbage on stdout (R20's stdout part);
 * R5: idle workers killed, or killed right after replying. Light background load runs throughout and
 * must be untouched.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerCrashedError, type Pool } from '../../src/index.js';
import { ControlDir } from '../control.js';
import { fixture, startPool, waitFor } from '../helpers.js';
import { CapacityWatch, Scenario, WorkerPids, signalWorker, steadyLoad, workerPids } from './harness.js';

const SIZE = 2;

async function chaosPool(ctl: ControlDir): Promise<Pool> {
  return startPool({
    adapter: fixture('chaos.py'),
    size: SIZE,
    env: { CHAOS_DIR: ctl.path },
    // Faults hit slots right after their restart, so each slot's backoff grows: keep its ceiling low.
    restart: { maxFailures: 1000, stableAfter: 500, backoffMax: 1000 },
    timeout: 30_000,
  });
}

describe('chaos: workers that exit, crash or print garbage', () => {
  it('R2, R3: exit 0, SIGSEGV and SIGABRT mid-request are crashes naming the status or signal', async () => {
    const scenario = new Scenario('R02-R03', 'exit 0, SIGSEGV, SIGABRT mid-request; garbage on stdout');
    const ctl = new ControlDir();
    const pool = await chaosPool(ctl);
    const capacity = new CapacityWatch(pool);
    const background = steadyLoad(pool, scenario, { clients: 1, limitMs: 35_000, prefix: 'bg' });
    try {
      const faults: [string, string, Record<string, unknown>, (e: WorkerCrashedError) => void][] = [
        ['exit 0 mid-request', 'exit_now', { code: 0 }, (e) => assert.equal(e.exitCode, 0)],
        ['exit 3 mid-request', 'exit_now', { code: 3, message: 'leaving with 3' }, (e) => {
          assert.equal(e.exitCode, 3);
          assert.match(e.stderrTail, /leaving with 3/);
        }],
        ['SIGSEGV', 'signal_self', { name: 'SIGSEGV', message: 'about to segfault' }, (e) => {
          assert.equal(e.signal, 'SIGSEGV');
          assert.match(e.message, /signal SIGSEGV/);
          assert.match(e.stderrTail, /about to segfault/);
        }],
        ['SIGABRT', 'signal_self', { name: 'SIGABRT', message: 'about to abort' }, (e) => {
          assert.equal(e.signal, 'SIGABRT');
          assert.match(e.stderrTail, /about to abort/);
        }],
      ];
      for (let round = 0; round < 3; round++) {
        for (const [kind, tool, args, check] of faults) {
          await waitFor(() => pool.state === 'ready', 20_000, 'ready');
          const pidsBefore = workerPids(pool);
          const at = performance.now();
          const { error } = await scenario.ledger.track(pool.execute(tool, args), { limitMs: 35_000 });
          scenario.deathToRejection.push(performance.now() - at); // upper bound: includes the call's own run
          scenario.fault(kind);
          assert.ok(error instanceof WorkerCrashedError, `${kind}: ${String(error)}`);
          assert.ok(pidsBefore.includes(error.pid!));
          check(error);
          capacity.death(error.pid!, at);
        }
        const { value } = await scenario.ledger.track(pool.execute<number>('garbage_stdout', { n: 20 }), { limitMs: 35_000 });
        scenario.fault('garbage on stdout');
        assert.equal(value, 20, 'garbage on stdout does not disturb the protocol');
      }
      await background.stop();
      await waitFor(() => pool.state === 'ready' && capacity.outstanding === 0, 20_000, 'full capacity');
      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      const crashes = 12;
      assert.equal(scenario.ledger.failedByCode.WORKER_CRASHED, crashes, 'exactly the faulty calls failed');
      assert.equal(pool.stats().crashes, crashes);
      scenario.ledger.assertClean('R2/R3');
    } finally {
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }
  });

  it('R5: an idle worker killed, or killed right after replying, fails no call; the next runs on a new pid', async () => {
    const scenario = new Scenario('R05', 'idle worker killed / killed right after replying');
    const ctl = new ControlDir();
    const pool = await chaosPool(ctl);
    const capacity = new CapacityWatch(pool);
    const pids = new WorkerPids(pool);
    const dead = new Set<number>();
    const check = (v: { pid: number }) => !dead.has(pids.host(v.pid));
    try {
      for (let round = 0; round < 5; round++) {
        // Idle worker killed: once the pool noticed, no call fails and none runs on the dead pid.
        await waitFor(() => pool.state === 'ready', 20_000, 'ready');
        const [victim] = workerPids(pool);
        dead.add(victim!);
        capacity.death(victim!);
        signalWorker(victim!, 'SIGKILL');
        scenario.fault('SIGKILL idle worker');
        await waitFor(() => !workerPids(pool).includes(victim!), 10_000, 'exit noticed');
        const calls = Array.from({ length: 10 }, (_, i) =>
          scenario.ledger.track(pool.execute<{ pid: number; token: string }>('work', { token: `idle${round}-${i}`, ms: 2 }), { limitMs: 35_000, check }),
        );
        await Promise.all(calls);
        // Killed right after replying: the reply arrives, the worker dies 20 ms later.
        await waitFor(() => pool.state === 'ready', 20_000, 'ready');
        const { value: reported } = await scenario.ledger.track(pool.execute<number>('reply_then_die', { delay: 0.02 }), { limitMs: 35_000 });
        assert.equal(typeof reported, 'number');
        const pid = pids.host(reported!);
        dead.add(pid);
        capacity.death(pid);
        scenario.fault('dies right after replying');
        await waitFor(() => !workerPids(pool).includes(pid), 10_000, 'exit noticed');
        const after = Array.from({ length: 10 }, (_, i) =>
          scenario.ledger.track(pool.execute<{ pid: number }>('work', { token: `after${round}-${i}`, ms: 2 }), { limitMs: 35_000, check }),
        );
        await Promise.all(after);
        // Calls submitted in the same instant as the kill, marked idempotent, all succeed too.
        const [racing] = workerPids(pool);
        dead.add(racing!);
        capacity.death(racing!);
        signalWorker(racing!, 'SIGKILL');
        scenario.fault('SIGKILL idle worker, calls racing the exit');
        const racers = Array.from({ length: 4 }, (_, i) =>
          scenario.ledger.track(pool.execute<{ pid: number }>('work', { token: `race${round}-${i}`, ms: 2 }, { idempotent: true }), { limitMs: 35_000, check }),
        );
        await Promise.all(racers);
      }
      await waitFor(() => pool.state === 'ready' && capacity.outstanding === 0, 20_000, 'full capacity');
      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      assert.equal(scenario.ledger.failed, 0, `calls failed: ${JSON.stringify(scenario.ledger.failedByCode)}`);
      scenario.figures.racingIdempotentCallsRetried = pool.stats().retries;
      scenario.ledger.assertClean('R5');
    } finally {
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }
  });
});
