/**
 * Every duration option is a Node.js timer delay, and Node.js fires a timer of more than 2^31-1 ms
 * (about 24.8 days) at once, with a warning. Such values are refused at validation, naming the option,
 * rather than turning a 30-day `sessionTtl` into an immediate expiry.
 */

import { InvalidOptionsError } from './errors.js';

/** The longest delay a Node.js timer honours: 2^31-1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const POOL_DURATIONS = [
  'queueTimeout', 'timeout', 'startupTimeout', 'cancelGrace', 'killGrace', 'sessionTtl', 'ttl', 'recycleWait',
  'heartbeatInterval', 'heartbeatTimeout',
] as const;
const RESTART_DURATIONS = ['backoffInitial', 'backoffMax', 'window', 'stableAfter'] as const;

function check(value: unknown, name: string): void {
  if (typeof value === 'number' && value > MAX_TIMER_MS) {
    throw new InvalidOptionsError(
      `${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days, the longest a Node.js timer can wait), got ${value}`,
    );
  }
}

/** Throws InvalidOptionsError for a pool duration option over MAX_TIMER_MS (other checks stay in options.ts). */
export function checkPoolDurations(options: Record<string, unknown>): void {
  for (const name of POOL_DURATIONS) check(options[name], `options.${name}`);
  const restart = options.restart;
  if (restart !== null && typeof restart === 'object') {
    for (const name of RESTART_DURATIONS) check((restart as Record<string, unknown>)[name], `options.restart.${name}`);
  }
}

/** Throws InvalidOptionsError for a call's `timeout` or `idleTimeout` over MAX_TIMER_MS. */
export function checkCallDurations(options: Record<string, unknown>): void {
  check(options.timeout, 'call option timeout');
  check(options.idleTimeout, 'call option idleTimeout');
}
