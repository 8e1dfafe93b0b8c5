import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolvePoolOptions } from '../src/options.js';
import { RestartPolicy } from '../src/supervision/restart-policy.js';
import { Heartbeat } from '../src/connection/heartbeat.js';
import { parseStat } from '../src/worker/procfs.js';
import { fixture } from './helpers.js';

const restart = (r: Record<string, unknown> = {}) => resolvePoolOptions({ adapter: fixture('basic.py'), restart: r }).restart;

describe('restart policy', () => {
  it('restarts at once first, then doubles the delay up to backoffMax', () => {
    const policy = new RestartPolicy(restart({ backoffInitial: 100, backoffMax: 1000, jitter: 0 }));
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map((n) => policy.delay(n)), [0, 100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('spreads each delay by the jitter fraction', () => {
    let r = 0;
    const policy = new RestartPolicy(restart({ backoffInitial: 1000, backoffMax: 1000, jitter: 0.5 }), () => r);
    r = 0;
    assert.equal(policy.delay(2), 500);
    r = 1;
    assert.equal(policy.delay(2), 1500);
    r = 0.5;
    assert.equal(policy.delay(2), 1000);
    r = 0.25;
    assert.equal(policy.probeDelay(), 750);
    const random = new RestartPolicy(restart({ backoffInitial: 100, backoffMax: 100, jitter: 0.2 }));
    for (let i = 0; i < 200; i++) {
      const d = random.delay(3);
      assert.ok(d >= 80 && d <= 120, `delay ${d} outside 100 ± 20%`);
    }
  });

  it('resets a slot streak when the failed worker had been stable', () => {
    const policy = new RestartPolicy(restart({ stableAfter: 5000 }));
    assert.equal(policy.nextStreak(0, undefined), 1);
    assert.equal(policy.nextStreak(3, undefined), 4, 'start failures keep growing the streak');
    assert.equal(policy.nextStreak(3, 4999), 4);
    assert.equal(policy.nextStreak(3, 5000), 1, 'a worker ready for stableAfter resets it');
  });

  it('opens the breaker at maxFailures within the sliding window', () => {
    const policy = new RestartPolicy(restart({ maxFailures: 3, window: 1000, stableAfter: 500 }));
    assert.equal(policy.recordFailure(0), false);
    assert.equal(policy.recordFailure(400), false);
    assert.equal(policy.recordFailure(1100), false, 'the failure at 0 left the window');
    assert.equal(policy.recentFailures(1100), 2);
    assert.equal(policy.recordFailure(1200), true);
    assert.equal(policy.quietSince(1600), false);
    assert.equal(policy.quietSince(1700), true);
    policy.reset();
    assert.equal(policy.recentFailures(1700), 0);
    assert.equal(policy.recordFailure(1800), false);
  });
});

describe('heartbeat bookkeeping', () => {
  it('keeps one ping outstanding, matches its pong, and measures the wait', () => {
    const hb = new Heartbeat();
    const nonce = hb.next(100);
    assert.ok(nonce !== undefined && nonce < 0, 'heartbeat nonces are negative');
    assert.equal(hb.next(150), undefined, 'no second ping while one is outstanding');
    assert.equal(hb.waiting(400), 300);
    assert.equal(hb.pong(12345, 410), false, 'a stray pong does not count');
    assert.equal(hb.pong(nonce, 420), true);
    assert.equal(hb.lastRtt, 320);
    assert.equal(hb.waiting(500), 0);
    const again = hb.next(600);
    assert.notEqual(again, nonce);
    hb.forgive(5000);
    assert.equal(hb.waiting(5100), 100, 'a host stall restarts the clock');
    assert.equal(hb.sent, 2);
    assert.equal(hb.answered, 1);
  });
});

describe('procfs', () => {
  it('parses /proc/<pid>/stat even when the command name has spaces and parentheses', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    fields[1] = '77'; // ppid (field 4)
    fields[2] = '88'; // pgrp (field 5)
    fields[19] = '123456'; // starttime (field 22)
    const stat = parseStat(`4242 (weird) name (x)) ${fields.join(' ')}`);
    assert.deepEqual(stat, { state: 'S', ppid: 77, pgid: 88, startTime: 123456 });
    assert.equal(parseStat('garbage'), undefined);
  });
});
