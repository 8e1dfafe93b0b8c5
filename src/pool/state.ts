/**
 * The pool's lifecycle as one table: for each state, whether new work is accepted (calls, sessions,
 * `python.create`), whether calls may still wait in a queue (a retry of an idempotent call whose
 * worker died, while draining), whether lost workers are replaced, and which error a refusal
 * carries. Every question "does this state accept ...?" is answered here and nowhere else.
 *
 * | state     | accepts | may queue | replaces workers        | refusal      |
 * |-----------|---------|-----------|-------------------------|--------------|
 * | starting  | no      | no        | no (Pool.start does)    | POOL_CLOSED  |
 * | ready     | yes     | yes       | yes                     | -            |
 * | degraded  | yes     | yes       | yes                     | -            |
 * | draining  | no      | yes       | while calls are queued  | POOL_CLOSED  |
 * | failed    | no      | no        | yes (probes, backoff)   | POOL_FAILED  |
 * | closed    | no      | no        | no                      | POOL_CLOSED  |
 */

import { PoolClosedError, PoolFailedError, type SnakepitError } from '../errors.js';
import type { PoolState } from '../events.js';

export interface StateRule {
  /** New calls, sessions and `python.create` are accepted. */
  readonly accepts: boolean;
  /** Calls already accepted may wait in a queue (retries after a crash). */
  readonly mayQueue: boolean;
  /** Lost workers are replaced: `always`, `never`, or only `whileQueued` (calls still wait). */
  readonly replaces: 'always' | 'never' | 'whileQueued';
  /** The code of the error new work is refused with, when it is. */
  readonly refusal: 'POOL_CLOSED' | 'POOL_FAILED' | undefined;
  /** States this one may move to. */
  readonly next: readonly PoolState[];
}

const RULES: Readonly<Record<PoolState, StateRule>> = Object.freeze({
  starting: { accepts: false, mayQueue: false, replaces: 'never', refusal: 'POOL_CLOSED', next: ['ready', 'degraded', 'failed', 'closed'] },
  ready: { accepts: true, mayQueue: true, replaces: 'always', refusal: undefined, next: ['degraded', 'failed', 'draining', 'closed'] },
  degraded: { accepts: true, mayQueue: true, replaces: 'always', refusal: undefined, next: ['ready', 'failed', 'draining', 'closed'] },
  draining: { accepts: false, mayQueue: true, replaces: 'whileQueued', refusal: 'POOL_CLOSED', next: ['closed'] },
  failed: { accepts: false, mayQueue: false, replaces: 'always', refusal: 'POOL_FAILED', next: ['ready', 'degraded', 'draining', 'closed'] },
  closed: { accepts: false, mayQueue: false, replaces: 'never', refusal: 'POOL_CLOSED', next: [] },
});

/** The rule of `state`: the one answer to what it accepts. */
export function stateRule(state: PoolState): StateRule {
  return RULES[state];
}

/**
 * The error new work (`what`: "calls", "sessions") is refused with in `state`, or undefined when the
 * state accepts it. `failure` is the breaker's error while the pool is failed.
 */
export function refusal(state: PoolState, what: string, failure?: PoolFailedError): SnakepitError | undefined {
  const rule = RULES[state];
  if (rule.accepts) return undefined;
  if (rule.refusal === 'POOL_FAILED') return failure ?? new PoolFailedError('pool has failed');
  return new PoolClosedError(`pool is ${state}; no new ${what} are accepted`);
}

/** The pool's current state; only `move` changes it, and only along the table. */
export class PoolLifecycle {
  private current: PoolState = 'starting';

  constructor(private readonly onChange: (from: PoolState, to: PoolState, reason: string | undefined) => void) {}

  get state(): PoolState {
    return this.current;
  }

  get rule(): StateRule {
    return RULES[this.current];
  }

  /** Move to `to`; a move the table does not allow is ignored and returns false. */
  move(to: PoolState, reason?: string): boolean {
    const from = this.current;
    if (from === to || !RULES[from].next.includes(to)) return false;
    this.current = to;
    this.onChange(from, to, reason);
    return true;
  }
}
