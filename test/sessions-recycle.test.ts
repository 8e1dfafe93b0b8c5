import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionLostError, type Pool, type WorkerRecycleEvent } from '../src/index.js';
import { alive, fixture, rejection, waitFor, withPool } from './helpers.js';

const sessions = { adapter: fixture('sessions.py'), size: 2 };

/** Opens a session and runs it past `maxRequests: 3` on its worker; records the recycle events. */
async function sessionPastMaxRequests(pool: Pool) {
  const recycled: WorkerRecycleEvent[] = [];
  pool.on('workerRecycle', (e) => recycled.push(e));
  const s = pool.session();
  const pid = await s.execute<number>('pid');
  for (let i = 0; i < 4; i++) await s.execute('incr');
  return { recycled, s, pid };
}

describe('recycling and sessions', () => {
  it('automatic recycling waits for a live session, then loses it explicitly after recycleWait', async () => {
    await withPool({ ...sessions, maxRequests: 3, recycleWait: 1500, heartbeatInterval: 100 }, async (pool) => {
      const { recycled, s, pid } = await sessionPastMaxRequests(pool);
      // Past maxRequests, yet the worker keeps the session's state while the wait lasts.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await s.execute('incr'), { n: 5, pid });
      assert.ok(!recycled.some((e) => e.pid === pid), 'not recycled while the session is live');
      // After recycleWait the session is lost explicitly and the worker is recycled.
      await waitFor(() => recycled.some((e) => e.pid === pid), 10_000, 'recycle after the wait');
      const err = await rejection(s.execute('incr'));
      assert.ok(err instanceof SessionLostError, String(err));
      assert.equal(err.reason, 'recycled');
      await waitFor(() => !alive(pid), 10_000, 'old worker exits');
      await s.close();
    });
  });

  it('a session that closes in time lets recycling go ahead without loss', async () => {
    await withPool({ ...sessions, maxRequests: 3, recycleWait: 60_000, heartbeatInterval: 100 }, async (pool) => {
      const { recycled, s, pid } = await sessionPastMaxRequests(pool);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!recycled.some((e) => e.pid === pid));
      await s.close();
      // The next settled call or tick finds no live session: the recycling proceeds.
      await pool.execute('plain');
      await waitFor(() => recycled.some((e) => e.pid === pid), 10_000, 'recycle after close');
    });
  });

  it('a manual recycle loses the worker\'s sessions at once', async () => {
    await withPool(sessions, async (pool) => {
      const s = pool.session();
      const pid = await s.execute<number>('pid');
      const worker = pool.stats().workerList.find((w) => w.pid === pid)!;
      await pool.recycle(worker.id);
      const err = await rejection(s.execute('incr'));
      assert.ok(err instanceof SessionLostError);
      assert.equal(err.reason, 'recycled');
    });
  });
});
