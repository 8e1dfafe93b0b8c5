import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerCrashedError, PythonError, type Pool } from '../src/index.js';
import type { Call } from '../src/pool/call.js';
import { lostCallOutcome } from '../src/supervision/retry.js';
import { ControlDir, withChaos } from './control.js';
import { rejection, waitFor } from './helpers.js';

/** Kill the worker running the call with `token` as soon as it has started it. */
async function killWhenRunning(pool: Pool, ctl: ControlDir, token: string, runs = 1): Promise<number> {
  await waitFor(() => (ctl.executions().get(token) ?? 0) >= runs, 10_000, `${token} running`);
  const busy = pool.stats().workerList.find((w) => w.inFlight > 0);
  assert.ok(busy?.pid, 'a worker runs the call');
  process.kill(busy.pid, 'SIGKILL');
  return busy.pid;
}

describe('retries', () => {
  it('at most once by default: a call whose worker crashes is rejected and ran once', async () => {
    await withChaos({ restart: { maxFailures: 100 }, size: 2 }, async (pool, ctl) => {
      const call = rejection(pool.execute('work', { token: 'once', ms: 2000 }));
      await killWhenRunning(pool, ctl, 'once');
      const err = await call;
      assert.ok(err instanceof WorkerCrashedError);
      assert.equal(err.retryable, true, 'the caller may retry it');
      assert.equal(ctl.executions().get('once'), 1);
      assert.equal(pool.stats().retries, 0);
    });
  });

  it('an idempotent call whose worker crashes runs again on another worker', async () => {
    await withChaos({ restart: { maxFailures: 100 }, size: 2 }, async (pool, ctl) => {
      const call = pool.execute<{ token: string; pid: number }>('work', { token: 'again', ms: 1500 }, { idempotent: true });
      const killed = await killWhenRunning(pool, ctl, 'again');
      const result = await call;
      assert.equal(result.token, 'again');
      assert.notEqual(result.pid, killed);
      assert.equal(ctl.executions().get('again'), 2);
      assert.equal(pool.stats().retries, 1);
      assert.equal(pool.stats().succeeded, 1);
    });
  });

  it('a poison call fails after retries + 1 crashes; other calls all succeed (R8)', async () => {
    await withChaos({ restart: { maxFailures: 100 }, size: 2, retries: 2 }, async (pool, ctl) => {
      const others = Array.from({ length: 20 }, (_, i) => pool.execute<{ token: string }>('work', { token: `ok${i}`, ms: 20 }));
      const err = await rejection(pool.execute('poison', { token: 'poison' }, { idempotent: true }));
      assert.ok(err instanceof WorkerCrashedError, String(err));
      assert.match(err.message, /crashed 3 workers \(retries 2\)/);
      assert.equal(err.retryable, false);
      assert.equal(ctl.executions().get('poison'), 3);
      const results = await Promise.all(others);
      assert.deepEqual(results.map((r) => r.token), Array.from({ length: 20 }, (_, i) => `ok${i}`));
      await waitFor(() => pool.state === 'ready', 20_000, 'pool back to full size');
      assert.equal(pool.stats().crashes, 3);
    });
  });

  it('retries: 0 turns retries off even for idempotent calls', async () => {
    await withChaos({ restart: { maxFailures: 100 }, size: 1, retries: 0 }, async (pool, ctl) => {
      const err = await rejection(pool.execute('poison', { token: 'p0' }, { idempotent: true }));
      assert.equal(err.code, 'WORKER_CRASHED');
      assert.equal(ctl.executions().get('p0'), 1);
    });
  });

  it('a Python exception is never retried', async () => {
    await withChaos({ restart: { maxFailures: 100 }, size: 2 }, async (pool, ctl) => {
      const err = await rejection(pool.execute('fail', { token: 'py' }, { idempotent: true }));
      assert.ok(err instanceof PythonError);
      assert.equal(ctl.executions().get('py'), 1);
    });
  });
});

describe('retry decisions', () => {
  const crash = new WorkerCrashedError('worker died', { workerId: 1, pid: 2 });
  const call = (over: Partial<Call>): Call =>
    ({ idempotent: true, chunks: 0, attempts: 1, timeoutMs: 0, submittedAt: performance.now(), tool: 't', id: 1, ...over }) as Call;

  it('retries only idempotent calls lost to a crash, with nothing delivered, in time', () => {
    assert.deepEqual(lostCallOutcome(call({}), crash, 2, true), { retry: true });
    assert.equal(lostCallOutcome(call({ idempotent: false }), crash, 2, true).retry, false);
    assert.equal(lostCallOutcome(call({ chunks: 1 }), crash, 2, true).retry, false, 'a stream that delivered a chunk');
    assert.equal(lostCallOutcome(call({}), crash, 2, false).retry, false, 'the pool no longer queues');
    const late = call({ timeoutMs: 10, submittedAt: performance.now() - 20 });
    assert.equal(lostCallOutcome(late, crash, 2, true).retry, false, 'deadline passed');
    const other = new PythonError({ type: 'ValueError', module: 'builtins', message: 'x', traceback: '' });
    assert.deepEqual(lostCallOutcome(call({}), other, 2, true), { retry: false, error: other });
    const spent = lostCallOutcome(call({ attempts: 3 }), crash, 2, true);
    assert.equal(spent.retry, false);
    if (!spent.retry) {
      assert.match(spent.error.message, /crashed 3 workers/);
      assert.equal(spent.error.cause, crash);
    }
  });
});
