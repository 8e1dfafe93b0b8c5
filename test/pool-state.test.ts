/** The pool's state table (src/pool/state.ts): one answer per state. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PoolFailedError } from '../src/index.js';
import type { PoolState } from '../src/events.js';
import { PoolLifecycle, refusal, stateRule } from '../src/pool/state.js';

const STATES: PoolState[] = ['starting', 'ready', 'degraded', 'draining', 'failed', 'closed'];

describe('pool state table', () => {
  it('ready and degraded accept new work; every other state refuses it with its code', () => {
    const expected: Record<PoolState, string | undefined> = {
      starting: 'POOL_CLOSED',
      ready: undefined,
      degraded: undefined,
      draining: 'POOL_CLOSED',
      failed: 'POOL_FAILED',
      closed: 'POOL_CLOSED',
    };
    for (const state of STATES) {
      assert.equal(refusal(state, 'calls')?.code, expected[state], state);
      assert.equal(stateRule(state).accepts, expected[state] === undefined, state);
    }
    assert.match(refusal('draining', 'sessions')!.message, /pool is draining; no new sessions/);
  });

  it('a failed pool refuses with the breaker error it was given', () => {
    const failure = new PoolFailedError('pool failed: crash loop');
    assert.equal(refusal('failed', 'calls', failure), failure);
  });

  it('calls may wait in a queue only while the pool runs or drains', () => {
    assert.deepEqual(STATES.filter((s) => stateRule(s).mayQueue), ['ready', 'degraded', 'draining']);
  });

  it('moves only along the table; closed is final', () => {
    const seen: string[] = [];
    const life = new PoolLifecycle((from, to, reason) => seen.push(`${from}>${to}${reason ? `:${reason}` : ''}`));
    assert.equal(life.move('draining'), false, 'starting cannot drain');
    assert.equal(life.move('ready'), true);
    assert.equal(life.move('ready'), false, 'no move to the same state');
    assert.equal(life.move('failed', 'crash loop'), true);
    assert.equal(life.move('degraded', 'recovered'), true);
    assert.equal(life.move('draining'), true);
    assert.equal(life.move('ready'), false, 'a draining pool never accepts again');
    assert.equal(life.move('closed'), true);
    for (const state of STATES) assert.equal(life.move(state), false);
    assert.deepEqual(seen, ['starting>ready', 'ready>failed:crash loop', 'failed>degraded:recovered', 'degraded>draining', 'draining>closed']);
    assert.equal(life.state, 'closed');
  });
});
