/** stats(): the counters equal what callers saw, refused calls and cancel-grace kills included. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixture, rejection, waitFor, withPool } from './helpers.js';

describe('stats', () => {
  it('calls refused at admission count in submitted and failedByCode', async () => {
    await withPool({}, async (pool) => {
      assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
      assert.equal((await rejection(pool.execute('no_such_tool'))).code, 'TOOL_NOT_FOUND');
      assert.equal((await rejection(pool.execute('add', [1] as unknown as Record<string, unknown>))).code, 'INVALID_ARGUMENTS');
      assert.equal((await rejection(pool.execute('add', { a: 1 }, { timeout: -5 }))).code, 'INVALID_OPTIONS');
      assert.throws(() => pool.stream('add', { a: 1 }), { code: 'NOT_STREAMING' });
      const s = pool.stats();
      assert.equal(s.submitted, 5);
      assert.equal(s.succeeded, 1);
      assert.equal(s.failed, 4);
      assert.deepEqual({ ...s.failedByCode }, { TOOL_NOT_FOUND: 1, INVALID_ARGUMENTS: 1, INVALID_OPTIONS: 1, NOT_STREAMING: 1 });
    });
  });

  it('a call refused because the pool is closed still counts', async () => {
    await withPool({}, async (pool) => {
      await pool.close();
      assert.equal((await rejection(pool.execute('add', { a: 1, b: 1 }))).code, 'POOL_CLOSED');
      assert.equal(pool.stats().submitted, 1);
      assert.equal(pool.stats().failedByCode.POOL_CLOSED, 1);
    });
  });

  it('a worker killed after cancelGrace is a cancel kill, not a crash', async () => {
    await withPool({ adapter: fixture('misbehave.py'), cancelGrace: 100, killGrace: 200 }, async (pool) => {
      const err = await rejection(pool.execute('spin', { seconds: 30 }, { timeout: 200 }));
      assert.equal(err.code, 'TIMEOUT');
      await waitFor(() => pool.stats().cancelKills === 1 && pool.stats().workers.ready === 1, 10_000, 'kill and replacement');
      assert.equal(pool.stats().crashes, 0);
    });
  });
});
