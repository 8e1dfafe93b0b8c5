/**
 * R10: past its deadline, honouring cancellation; R11: spinning and ignoring cancellation (also with
 * the GIL held); R13: deadline passes in the queue; R14: abort before dispatch, while queued, while
 * running, after completion. Under background load that must be untouched.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CallTimeoutError, type LogEvent } from '../../src/index.js';
import { ControlDir } from '../control.js';
import { START_METHOD, TEST_SANDBOX, fixture, startPool, waitFor } from '../helpers.js';
import { CapacityWatch, Scenario, percentile, steadyLoad, workerPids } from './harness.js';

const CANCEL_GRACE = 300;
const KILL_GRACE = 300;

describe('chaos: deadlines and cancellation', () => {
  it('R10, R11, R13, R14 under load', async () => {
    const scenario = new Scenario('R10-R14', 'deadlines, cancellation and aborts under load');
    const ctl = new ControlDir();
    const pool = await startPool({
      adapter: fixture('chaos.py'),
      size: 3,
      env: { CHAOS_DIR: ctl.path },
      cancelGrace: CANCEL_GRACE,
      killGrace: KILL_GRACE,
      restart: { maxFailures: 1000, stableAfter: 500, backoffMax: 500 },
      timeout: 30_000,
    });
    const capacity = new CapacityWatch(pool);
    const exitSignals = new Map<number, string | null>();
    pool.on('workerExit', (e) => exitSignals.set(e.pid!, e.signal));
    const finallies = new Set<number>();
    pool.on('log', (e: LogEvent) => {
      const m = /hang finally ran for request (\d+)/.exec(e.line);
      if (m) finallies.add(Number(m[1]));
    });
    const load = steadyLoad(pool, scenario, { clients: 2, limitMs: 35_000, prefix: 'bg' });
    const deadlineErrors: number[] = [];
    try {
      // R10: cooperative handler past its deadline.
      for (let i = 0; i < 6; i++) {
        const crashesBefore = pool.stats().crashes;
        const t0 = performance.now();
        const { error } = await scenario.ledger.track(pool.execute('hang', { seconds: 30 }, { timeout: 200 }), { limitMs: 200 + CANCEL_GRACE + KILL_GRACE + 5_000 });
        deadlineErrors.push(performance.now() - t0 - 200);
        scenario.fault('past deadline, honours cancel');
        assert.ok(error instanceof CallTimeoutError, String(error));
        assert.equal(pool.stats().crashes, crashesBefore, 'its worker is reused');
      }
      await waitFor(() => finallies.size === 6, 10_000, 'Python finally blocks');
      // R11: a handler that ignores cancellation (pure Python spin, then one holding the GIL).
      for (const [tool, args] of [
        ['spin', { seconds: 30 }],
        ['spin', { seconds: 30, ignore_term: true }], // SIGTERM ignored: SIGKILL after killGrace
        ['spin_gil', { n: 2 ** 31 - 1 }], // about 20 s in one C call
      ] as const) {
        await waitFor(() => pool.state === 'ready', 20_000, 'ready');
        const t0 = performance.now();
        const { error } = await scenario.ledger.track(pool.execute(tool, args, { timeout: 200 }), { limitMs: 200 + CANCEL_GRACE + KILL_GRACE + 5_000 });
        deadlineErrors.push(performance.now() - t0 - 200);
        const ignoresTerm = 'ignore_term' in args;
        scenario.fault(`${tool} ignoring cancellation${ignoresTerm ? ' and SIGTERM' : ''}`);
        assert.ok(error instanceof CallTimeoutError, String(error));
        capacity.death(error.pid!, t0 + 200 + CANCEL_GRACE);
        await waitFor(() => !workerPids(pool).includes(error.pid!), 10_000, 'spinning worker killed');
        await waitFor(() => exitSignals.has(error.pid!), 10_000, 'exit reported');
        // Spawned sandboxed, SIGTERM also ends bubblewrap, which leads the worker's group, and with it
        // the pid namespace: the worker ends at SIGTERM whatever it ignores, reported as bwrap's SIGTERM.
        // A forked one leads its own group, which the host signals: SIGKILL after killGrace.
        const endsAtTerm = TEST_SANDBOX && START_METHOD === 'spawn';
        assert.equal(exitSignals.get(error.pid!), ignoresTerm && !endsAtTerm ? 'SIGKILL' : 'SIGTERM');
      }
      await waitFor(() => pool.state === 'ready' && pool.stats().inFlight <= 2, 20_000, 'no capacity leak');
      // R13: the deadline passes while queued: never executed.
      await load.stop();
      const blockers = Array.from({ length: 3 }, () => pool.execute('hang', { seconds: 0.8 }));
      await waitFor(() => pool.stats().inFlight === 3, 5_000, 'all busy');
      for (let i = 0; i < 5; i++) {
        const { error } = await scenario.ledger.track(pool.execute('work', { token: `queued${i}` }, { timeout: 100 }), { limitMs: 5_000 });
        scenario.fault('deadline passes in the queue');
        assert.equal(error?.code, 'QUEUE_TIMEOUT');
      }
      await Promise.all(blockers.map((b) => scenario.ledger.track(b, { limitMs: 10_000 })));
      // R14: abort before dispatch, while queued, while running, after completion.
      // Listeners still attached to the callers' signals once every call settled.
      const live = new Set<unknown>();
      let added = 0;
      const watched = (): AbortController => {
        const ctl2 = new AbortController();
        const add = ctl2.signal.addEventListener.bind(ctl2.signal);
        const remove = ctl2.signal.removeEventListener.bind(ctl2.signal);
        ctl2.signal.addEventListener = ((t: string, fn: never, o?: never) => (added++, live.add(fn), add(t, fn, o))) as never;
        ctl2.signal.removeEventListener = ((t: string, fn: never, o?: never) => (live.delete(fn), remove(t, fn, o))) as never;
        return ctl2;
      };
      const pre = watched();
      pre.abort();
      const early = await scenario.ledger.track(pool.execute('work', { token: 'aborted-early' }, { signal: pre.signal }), { limitMs: 5_000 });
      assert.equal(early.error?.code, 'ABORTED');
      const busy = Array.from({ length: 3 }, () => pool.execute('hang', { seconds: 0.5 }));
      await waitFor(() => pool.stats().inFlight === 3, 5_000, 'all busy');
      const queuedCtl = watched();
      const queued = scenario.ledger.track(pool.execute('work', { token: 'aborted-queued' }, { signal: queuedCtl.signal }), { limitMs: 5_000 });
      queuedCtl.abort();
      assert.equal((await queued).error?.code, 'ABORTED');
      await Promise.all(busy.map((b) => scenario.ledger.track(b, { limitMs: 10_000 })));
      const runningCtl = watched();
      const running = scenario.ledger.track(pool.execute('hang', { seconds: 30 }, { signal: runningCtl.signal }), { limitMs: 10_000 });
      await waitFor(() => pool.stats().inFlight === 1, 5_000, 'running');
      runningCtl.abort();
      assert.equal((await running).error?.code, 'ABORTED');
      const doneCtl = watched();
      const done = await scenario.ledger.track(pool.execute<{ token: string }>('work', { token: 'done' }, { signal: doneCtl.signal }), { limitMs: 5_000 });
      doneCtl.abort();
      assert.equal(done.value?.token, 'done');
      scenario.fault('abort (before, queued, running, after)', 4);
      assert.equal(added, 3, 'queued, running and completed calls listened to their signal');
      assert.equal(live.size, 0, 'every abort listener was removed');
      await waitFor(() => pool.stats().inFlight === 0, 10_000, 'cancelled call settled in Python');

      await scenario.ledger.drain();
      scenario.capacity.push(...capacity.durations);
      const runs = ctl.executions();
      for (let i = 0; i < 5; i++) assert.equal(runs.get(`queued${i}`), undefined, 'a call whose deadline passed in the queue never ran');
      assert.equal(runs.get('aborted-early'), undefined);
      assert.equal(runs.get('aborted-queued'), undefined);
      assert.deepEqual(scenario.ledger.failedByCode, { TIMEOUT: 9, QUEUE_TIMEOUT: 5, ABORTED: 3 }, 'background calls all succeeded');
      scenario.figures.deadlineError_p50_ms = percentile(deadlineErrors, 50);
      scenario.figures.deadlineError_p99_ms = percentile(deadlineErrors, 99);
      scenario.figures.pythonFinallyRan = finallies.size;
      scenario.ledger.assertClean('R10-R14');
    } finally {
      scenario.save();
      await pool.destroy();
      ctl.dispose();
    }
  });
});
