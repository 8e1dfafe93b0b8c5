/** Durations past the longest Node.js timer (2^31-1 ms) are refused, naming the option. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidOptionsError } from '../src/index.js';
import { MAX_TIMER_MS } from '../src/durations.js';
import { checkCallOptions } from '../src/call-options.js';
import { resolvePoolOptions } from '../src/options.js';
import { fixture, rejection, withPool } from './helpers.js';

const base = { adapter: fixture('basic.py') };

describe('durations over 2^31-1 ms', () => {
  it('every pool duration option over the limit is refused with its name; the limit itself is accepted', () => {
    for (const name of ['queueTimeout', 'timeout', 'startupTimeout', 'cancelGrace', 'killGrace', 'sessionTtl', 'ttl', 'recycleWait', 'heartbeatTimeout']) {
      assert.throws(() => resolvePoolOptions({ ...base, [name]: 2 ** 31 }), (err: Error) =>
        err instanceof InvalidOptionsError && err.message.startsWith(`options.${name} must be at most 2147483647 ms`), name);
      const resolved = resolvePoolOptions({ ...base, [name]: MAX_TIMER_MS, heartbeatTimeout: MAX_TIMER_MS }) as unknown as Record<string, number>;
      assert.equal(resolved[name], MAX_TIMER_MS);
    }
    assert.throws(() => resolvePoolOptions({ ...base, sessionTtl: 30 * 24 * 3600 * 1000 }), /options\.sessionTtl must be at most .*about 24\.8 days/);
    assert.throws(() => resolvePoolOptions({ ...base, restart: { stableAfter: 2 ** 40 } }), /options\.restart\.stableAfter must be at most/);
  });

  it('call options too', async () => {
    assert.throws(() => checkCallOptions({ timeout: 2 ** 31 }, 0), /call option timeout must be at most 2147483647 ms/);
    assert.throws(() => checkCallOptions({ idleTimeout: 2 ** 32 }, 0), /call option idleTimeout must be at most/);
    await withPool(base, async (pool) => {
      const err = await rejection(pool.execute('add', { a: 1 }, { timeout: 2 ** 31 }));
      assert.ok(err instanceof InvalidOptionsError);
      assert.equal(await pool.execute('sleep', { seconds: 0.05 }, { timeout: MAX_TIMER_MS }), false, 'the longest timer does not fire early: not cancelled');
    });
  });
});
