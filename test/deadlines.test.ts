import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CallAbortedError,
  CallTimeoutError,
  PoolSaturatedError,
  QueueTimeoutError,
  WorkerCrashedError,
} from '../src/index.js';
import { alive, fixture, rejection, waitFor, withPool } from './helpers.js';

describe('deadlines and cancellation', () => {
  it('a sync tool past its deadline rejects with TIMEOUT, sees the cancel, and its worker is reused (R10)', async () => {
    await withPool({ adapter: fixture('misbehave.py') }, async (pool) => {
      const pid = await pool.execute('pid');
      const lines: string[] = [];
      pool.on('log', (e) => lines.push(e.line));
      const err = await rejection(pool.execute('sleep_checking', { seconds: 30 }, { timeout: 150 }));
      assert.ok(err instanceof CallTimeoutError);
      assert.equal(err.timeoutMs, 150);
      await waitFor(() => lines.some((l) => /finally ran for request/.test(l)), 5000, 'finally in Python');
      await waitFor(() => pool.stats().inFlight === 0, 5000, 'slot freed');
      assert.equal(await pool.execute('pid'), pid, 'same worker serves the next call');
      assert.equal(pool.stats().crashes, 0);
    });
  });

  it('an async tool is cancelled at its deadline', async () => {
    await withPool({}, async (pool) => {
      const err = await rejection(pool.execute('asleep', { seconds: 30 }, { timeout: 100 }));
      assert.equal(err.code, 'TIMEOUT');
      await waitFor(() => pool.stats().inFlight === 0, 5000, 'slot freed');
      assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
    });
  });

  it('a tool that ignores cancellation is rejected at its deadline and its worker replaced (R11)', async () => {
    await withPool({ adapter: fixture('misbehave.py'), cancelGrace: 200, killGrace: 200 }, async (pool) => {
      const pid = await pool.execute<number>('pid');
      const err = await rejection(pool.execute('spin', { seconds: 30 }, { timeout: 100 }));
      assert.ok(err instanceof CallTimeoutError);
      await waitFor(() => !alive(pid), 5000, 'spinning worker killed');
      await waitFor(() => pool.stats().workers.ready === 1, 10000, 'replacement ready');
      const newPid = await pool.execute<number>('pid');
      assert.notEqual(newPid, pid);
      assert.equal(pool.stats().inFlight, 0, 'no capacity leak');
    });
  });

  it('a call whose deadline passes in the queue is never executed (R13)', async () => {
    await withPool({ adapter: fixture('stream_tools.py') }, async (pool) => {
      const blocker = pool.execute('count', { n: 1 }, { collect: true }); // warm
      await blocker;
      const before = await pool.execute<number>('produced');
      const busy = pool.stream('slow', { n: 3, delay: 0.1 });
      const queued = rejection(pool.execute('count', { n: 1000 }, { timeout: 50, collect: true }));
      const err = await queued;
      assert.ok(err instanceof QueueTimeoutError);
      assert.equal(err.retryable, true);
      for await (const _ of busy) {
        /* drain */
      }
      assert.equal(await pool.execute('produced'), before, 'the queued generator never ran');
    });
  });

  it('queueTimeout rejects waiting calls without running them', async () => {
    await withPool({ queueTimeout: 50 }, async (pool) => {
      const running = pool.execute('sleep', { seconds: 0.3 });
      const err = await rejection(pool.execute('add', { a: 1, b: 1 }));
      assert.equal(err.code, 'QUEUE_TIMEOUT');
      assert.equal(await running, false);
    });
  });

  it('abort before dispatch, while queued, while running, and after completion (R14)', async () => {
    await withPool({}, async (pool) => {
      const pre = new AbortController();
      pre.abort(new Error('changed my mind'));
      const early = await rejection(pool.execute('add', { a: 1, b: 1 }, { signal: pre.signal }));
      assert.ok(early instanceof CallAbortedError);
      assert.equal((early.cause as Error).message, 'changed my mind');

      const runningCtl = new AbortController();
      const queuedCtl = new AbortController();
      const running = rejection(pool.execute('sleep', { seconds: 30 }, { signal: runningCtl.signal }));
      const queued = rejection(pool.execute('add', { a: 1, b: 1 }, { signal: queuedCtl.signal }));
      await waitFor(() => pool.stats().inFlight === 1 && pool.stats().queued === 1);
      queuedCtl.abort();
      assert.equal((await queued).code, 'ABORTED');
      assert.equal(pool.stats().queued, 0);
      runningCtl.abort();
      assert.equal((await running).code, 'ABORTED');
      await waitFor(() => pool.stats().inFlight === 0, 5000, 'cancelled sync tool settles');

      const doneCtl = new AbortController();
      assert.equal(await pool.execute('add', { a: 2, b: 3 }, { signal: doneCtl.signal }), 5);
      doneCtl.abort(); // after completion: nothing happens
      assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
    });
  });

  it('one signal shared by many calls has one abort listener at a time (no MaxListenersExceededWarning), none once they settled; aborting it ends the calls still running (R14)', async () => {
    await withPool({ size: 2, concurrency: 4 }, async (pool) => {
      const ctl = new AbortController();
      const live = new Set<unknown>();
      let most = 0;
      const signal = ctl.signal;
      type Listen = (type: string, fn: unknown, options?: unknown) => void;
      const spy = signal as unknown as { addEventListener: Listen; removeEventListener: Listen };
      const origAdd = spy.addEventListener.bind(signal);
      const origRemove = spy.removeEventListener.bind(signal);
      spy.addEventListener = (type, fn, options) => {
        live.add(fn);
        most = Math.max(most, live.size);
        origAdd(type, fn, options);
      };
      spy.removeEventListener = (type, fn, options) => {
        live.delete(fn);
        origRemove(type, fn, options);
      };
      const warnings: Error[] = [];
      const onWarning = (w: Error): void => void warnings.push(w);
      process.on('warning', onWarning);
      try {
        for (let i = 0; i < 5; i++) assert.equal(await pool.execute('add', { a: i, b: 1 }, { signal }), i + 1);
        await rejection(pool.execute('boom', { message: 'x' }, { signal }));
        assert.equal(live.size, 0, 'nothing left on the signal once its calls settled');
        const done = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.execute('add', { a: i, b: 0 }, { signal })));
        assert.deepEqual(done, Array.from({ length: 20 }, (_, i) => i));
        assert.equal(live.size, 0);
        // 30 calls at once on 8 slots: 8 running, 22 queued, all watching the one signal.
        const slow = Array.from({ length: 30 }, () => rejection(pool.execute('sleep', { seconds: 30 }, { signal })));
        await waitFor(() => pool.stats().inFlight === 8, 5000, 'slots filled');
        assert.equal(live.size, 1);
        ctl.abort();
        const errors = await Promise.all(slow);
        assert.deepEqual(new Set(errors.map((e) => e.code)), new Set(['ABORTED']));
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off('warning', onWarning);
      }
      assert.equal(most, 1, 'one listener at a time, whatever the number of calls');
      assert.equal(live.size, 0);
      assert.deepEqual(warnings.map((w) => w.name), []);
      await waitFor(() => pool.stats().inFlight === 0, 10_000, 'cancelled calls settle');
      assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
    });
  });

  it('rejects exactly the calls past maxQueue with POOL_SATURATED (R15)', async () => {
    await withPool({ maxQueue: 5 }, async (pool) => {
      const calls = Array.from({ length: 12 }, () => pool.execute('sleep', { seconds: 0.05 }).then(
        () => 'ok',
        (e: Error & { code: string }) => e.code,
      ));
      const outcomes = await Promise.all(calls);
      assert.equal(outcomes.filter((o) => o === 'ok').length, 6, '1 running + 5 queued');
      assert.equal(outcomes.filter((o) => o === 'POOL_SATURATED').length, 6);
      const s = pool.stats();
      assert.equal(s.peakQueued, 5);
      assert.equal(s.failedByCode.POOL_SATURATED, 6);
      assert.ok(new PoolSaturatedError(5).retryable);
    });
  });
});

describe('worker death', () => {
  it('a worker that exits with status 0 mid-request is a crash (R2), and is replaced', async () => {
    await withPool({ adapter: fixture('misbehave.py') }, async (pool) => {
      const err = await rejection(pool.execute('exit_now', { code: 0 }));
      assert.ok(err instanceof WorkerCrashedError);
      assert.equal(err.exitCode, 0);
      assert.equal(err.retryable, true);
      await waitFor(() => pool.stats().workers.ready === 1, 10000, 'replacement');
      assert.equal(typeof (await pool.execute('pid')), 'number');
      assert.equal(pool.stats().crashes, 1);
      assert.equal(pool.stats().restarts, 1);
    });
  });

  it('SIGSEGV and SIGABRT name the signal and carry the stderr tail (R3)', async () => {
    await withPool({ adapter: fixture('misbehave.py') }, async (pool) => {
      for (const name of ['SIGSEGV', 'SIGABRT'] as const) {
        await waitFor(() => pool.stats().workers.ready === 1, 10000, 'ready worker');
        const err = await rejection(pool.execute('signal_self', { name, message: `about to ${name}` }));
        assert.ok(err instanceof WorkerCrashedError, String(err));
        assert.equal(err.signal, name);
        assert.match(err.message, new RegExp(`signal ${name}`));
        assert.match(err.stderrTail, new RegExp(`about to ${name}`));
      }
    });
  });

  it('all calls in flight on a dying worker reject at once; other workers are unaffected', async () => {
    await withPool({ adapter: fixture('misbehave.py'), size: 2, concurrency: 3 }, async (pool) => {
      const pids = new Set(pool.stats().workerList.map((w) => w.pid));
      assert.equal(pids.size, 2);
      const sleepers = Array.from({ length: 4 }, () => pool.execute('sleep_checking', { seconds: 1 }));
      await waitFor(() => pool.stats().inFlight === 4);
      const crash = rejection(pool.execute('exit_now', { code: 3 }));
      const results = await Promise.allSettled(sleepers);
      assert.equal((await crash).code, 'WORKER_CRASHED');
      const crashed = results.filter((r) => r.status === 'rejected');
      for (const r of crashed) assert.equal((r as PromiseRejectedResult).reason.code, 'WORKER_CRASHED');
      assert.ok(results.some((r) => r.status === 'fulfilled'), 'calls on the other worker succeed');
    });
  });

  it('kills grandchildren of a worker with its process group', async () => {
    await withPool({ adapter: fixture('misbehave.py') }, async (pool) => {
      const grandchild = await pool.execute<number>('spawn_child');
      assert.ok(alive(grandchild));
      await rejection(pool.execute('exit_now', { code: 1 }));
      await waitFor(() => !alive(grandchild), 5000, 'grandchild killed');
    });
  });

  it('garbage on the protocol pipe is a protocol error; the worker is replaced (R20)', async () => {
    await withPool({ adapter: fixture('misbehave.py') }, async (pool) => {
      const err = await rejection(pool.execute('write_garbage'));
      assert.equal(err.code, 'PROTOCOL_ERROR');
      await waitFor(() => pool.stats().workers.ready === 1, 10000, 'replacement');
      assert.equal(typeof (await pool.execute('pid')), 'number');
    });
  });

  it('nothing is read after a protocol error: forged results behind a bad frame settle no call', async () => {
      await withPool({ adapter: fixture('misbehave.py'), concurrency: 4 }, async (pool) => {
        const calls = [1, 2, 3].map(() => pool.execute('sleep_checking', { seconds: 3 }));
        const forger = pool.execute('forge_results', { first: 1, count: 100 });
        const outcomes = await Promise.allSettled([...calls, forger]);
        for (const outcome of outcomes) {
          assert.equal(outcome.status, 'rejected', `a call resolved with ${JSON.stringify((outcome as PromiseFulfilledResult<unknown>).value)}`);
          assert.equal((outcome.reason as { code?: string }).code, 'PROTOCOL_ERROR');
        }
      });
  });
});
