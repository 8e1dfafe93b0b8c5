import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentsError, PythonError, type Pool, type WorkerRecycleEvent } from '../src/index.js';
import { ControlDir, running, withChaos } from './control.js';
import { fixture, rejection, startPool, waitFor } from './helpers.js';

const pids = (pool: Pool): number[] => pool.stats().workerList.map((w) => w.pid!);

/** Records the pool's serving capacity at every state change; it must never reach zero. */
function watchCapacity(pool: Pool): { min: () => number } {
  let min = Infinity;
  const check = () => {
    const s = pool.stats().workers;
    min = Math.min(min, s.ready);
  };
  for (const name of ['workerSpawn', 'workerReady', 'workerExit', 'workerRecycle', 'poolState'] as const) pool.on(name, check);
  return { min: () => min };
}

describe('recycling', () => {
  it('recycles after maxRequests with drain; exact when another worker serves; no call fails', async () => {
    await withChaos({ size: 2, maxRequests: 5 }, async (pool) => {
      const recycled: WorkerRecycleEvent[] = [];
      pool.on('workerRecycle', (e) => recycled.push(e));
      const capacity = watchCapacity(pool);
      const perPid = new Map<number, number>();
      const order: number[] = [];
      for (let i = 0; i < 30; i++) {
        const r = await pool.execute<{ pid: number }>('work', { token: `t${i}`, ms: 1 });
        perPid.set(r.pid, (perPid.get(r.pid) ?? 0) + 1);
        order.push(r.pid);
      }
      await waitFor(() => pool.stats().recycles >= 2 && pool.state === 'ready', 20_000, 'recycles');
      // Sequential calls go to the first worker; it reaches 5 while the second serves: exactly 5.
      assert.equal(perPid.get(order[0]!), 5);
      assert.ok(recycled.every((e) => e.reason === 'maxRequests' && e.replacementId !== undefined));
      assert.equal(pool.stats().failed, 0);
      assert.equal(pool.stats().crashes, 0);
      assert.ok(capacity.min() >= 1, 'some worker always served');
    });
  });

  it('with one worker, maxRequests is soft: the worker serves until its replacement is ready', async () => {
    await withChaos({ size: 1, maxRequests: 3 }, async (pool) => {
      const capacity = watchCapacity(pool);
      const [first] = pids(pool);
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) seen.push((await pool.execute<{ pid: number }>('work', { ms: 1 })).pid);
      await waitFor(() => pool.stats().recycles >= 1 && pool.state === 'ready' && !pids(pool).includes(first!), 20_000, 'recycled');
      assert.equal(seen.slice(0, 3).every((p) => p === first), true);
      assert.equal((await pool.execute<{ pid: number }>('work', {})).pid === first, false);
      assert.equal(pool.stats().failed, 0);
      assert.ok(capacity.min() >= 1, 'the single worker was kept until its replacement was ready');
    });
  });

  it('recycles by ttl', async () => {
    await withChaos({ size: 2, ttl: 600, heartbeatInterval: 100, heartbeatTimeout: 5000 }, async (pool) => {
      const first = pids(pool);
      await waitFor(() => first.every((p) => !pids(pool).includes(p)) && pool.state === 'ready', 20_000, 'both recycled');
      const reasons = new Set<string>();
      pool.on('workerRecycle', (e) => reasons.add(e.reason));
      await waitFor(() => reasons.size > 0, 10_000, 'another ttl recycle');
      assert.deepEqual([...reasons], ['ttl']);
      assert.equal(pool.stats().crashes, 0);
      for (const pid of first) await waitFor(() => !running(pid), 5_000, 'old worker exited');
    });
  });

  it('recycles a worker whose resident set exceeds maxRss', async () => {
    await withChaos({ size: 1, maxRss: 120 * 1024 * 1024, heartbeatInterval: 100 }, async (pool) => {
      const reasons: string[] = [];
      pool.on('workerRecycle', (e) => reasons.push(e.reason));
      const fat = await pool.execute<number>('hold', { mb: 160 });
      await waitFor(() => !pids(pool).includes(fat) && pool.state === 'ready', 20_000, 'fat worker recycled');
      assert.deepEqual(reasons, ['rss']);
      assert.equal(typeof (await pool.execute('pid')), 'number');
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(reasons, ['rss'], 'a lean replacement is not recycled');
    });
  });

  it('pool.recycle(id) lets the call in flight finish on the old worker, then replaces it', async () => {
    await withChaos({ size: 1 }, async (pool) => {
      const [oldPid] = pids(pool);
      const { id } = pool.stats().workerList[0]!;
      const inFlight = pool.execute<string>('hang', { seconds: 0.5 });
      await waitFor(() => pool.stats().inFlight === 1, 5_000, 'running');
      const done = pool.recycle(id);
      const again = pool.recycle(id); // idempotent
      assert.equal(await inFlight, 'done');
      await Promise.all([done, again]);
      assert.ok(!running(oldPid!));
      const r = await pool.execute<{ pid: number }>('work', {});
      assert.notEqual(r.pid, oldPid);
      assert.equal(pool.stats().failed, 0);
      const err = await rejection(pool.recycle(9999));
      assert.ok(err instanceof InvalidArgumentsError);
      assert.match(err.message, /no worker with id 9999/);
    });
  });

  it('a failed replacement leaves the old worker serving and rejects pool.recycle', async () => {
    await withChaos({ size: 1, restart: { maxFailures: 100 } }, async (pool, ctl) => {
      const [oldPid] = pids(pool);
      ctl.set('fail_setup');
      const err = await rejection(pool.recycle(pool.stats().workerList[0]!.id));
      assert.equal(err.code, 'WORKER_START_FAILED');
      ctl.clear('fail_setup');
      assert.deepEqual(pids(pool), [oldPid]);
      const r = await pool.execute<{ pid: number }>('work', {});
      assert.equal(r.pid, oldPid);
    });
  });
});

describe('recycling whose old worker exits first', () => {
  it('waits for the replacement, and rejects when it fails although the old worker had drained and gone', async () => {
    // Another worker serves, so the old one stops taking calls at once and exits before its slow
    // replacement has even failed; the recycling is still not over until the replacement is ready.
    const ctl = new ControlDir();
    const pool = await startPool({ adapter: fixture('chaos.py'), size: 2, env: { CHAOS_DIR: ctl.path, CHAOS_SETUP_SLEEP: '0.4' }, restart: { maxFailures: 100 } });
    try {
      const [first, second] = pool.stats().workerList;
      const exited: number[] = [];
      pool.on('workerExit', (e) => exited.push(e.workerId));
      ctl.set('fail_setup');
      const err = await rejection(pool.recycle(first!.id));
      assert.equal(err.code, 'WORKER_START_FAILED');
      assert.ok(exited.includes(first!.id), 'the old worker had exited before the replacement failed');
      ctl.clear('fail_setup');
      // Its slot is filled again by the supervisor, and a recycling that works resolves only once
      // the replacement serves.
      await waitFor(() => pool.stats().workerList.filter((w) => w.state === 'ready').length === 2, 20_000, 'slot refilled');
      await pool.recycle(second!.id);
      const list = pool.stats().workerList;
      assert.equal(list.length, 2);
      assert.ok(list.every((w) => w.state === 'ready' && w.id !== second!.id), JSON.stringify(list.map((w) => [w.id, w.state])));
    } finally {
      await pool.destroy();
      ctl.dispose();
    }
  });
});

describe('memory limit (R4)', () => {
  it('a tool past memoryLimit fails with MemoryError as PythonError, and its worker is recycled', async () => {
    await withChaos({ size: 1, memoryLimit: 256 * 1024 * 1024 }, async (pool) => {
      const [oldPid] = pids(pool);
      const reasons: string[] = [];
      pool.on('workerRecycle', (e) => reasons.push(e.reason));
      const err = await rejection(pool.execute('allocate', { step_mb: 16 }));
      assert.ok(err instanceof PythonError, String(err));
      assert.equal(err.pythonType, 'MemoryError');
      await waitFor(() => !pids(pool).includes(oldPid!) && pool.state === 'ready', 20_000, 'recycled');
      assert.deepEqual(reasons, ['memory']);
      assert.equal(pool.stats().crashes, 0);
      const r = await pool.execute<{ pid: number }>('work', {});
      assert.notEqual(r.pid, oldPid);
    });
  });

  it('a worker that dies of memory exhaustion is a crash and is replaced', async () => {
    await withChaos({ size: 1, memoryLimit: 256 * 1024 * 1024 }, async (pool) => {
      const err = await rejection(pool.execute('allocate_then_abort', {}));
      assert.equal(err.code, 'WORKER_CRASHED');
      assert.equal((err as unknown as { signal: string }).signal, 'SIGABRT');
      await waitFor(() => pool.state === 'ready', 20_000, 'replaced');
      assert.equal(typeof (await pool.execute('pid')), 'number');
    });
  });
});
