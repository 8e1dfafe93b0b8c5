/**
 * The restart policy: when a worker slot's replacement is started, and when the pool gives up.
 *
 * - Backoff per slot: the first failure of a slot is replaced at once; each further consecutive
 *   failure doubles the delay from `backoffInitial` up to `backoffMax`, spread by `jitter`. A worker
 *   that stayed ready for `stableAfter` ms resets its slot's streak.
 * - Breaker for the pool: `maxFailures` failures (crashes, wedged workers, failed starts) within a
 *   sliding `window` open the breaker; the pool is then `failed` until a worker has been ready and no
 *   failure has happened for `stableAfter` ms.
 *
 * Pure logic with an injectable clock and random source, so it is tested without processes.
 */

import type { ResolvedRestartOptions } from '../options.js';

export class RestartPolicy {
  private failures: number[] = [];
  /** performance.now() of the latest failure, or -Infinity. */
  lastFailureAt = -Infinity;

  constructor(
    readonly options: ResolvedRestartOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /**
   * Delay before restarting a slot whose consecutive-failure streak is `streak` (1 for the first
   * failure). The first restart is immediate.
   */
  delay(streak: number): number {
    if (streak <= 1) return 0;
    const { backoffInitial, backoffMax, jitter } = this.options;
    const base = Math.min(backoffMax, backoffInitial * 2 ** Math.min(streak - 2, 40));
    return this.spread(base, jitter);
  }

  /** The pace of probes while the breaker is open. */
  probeDelay(): number {
    return this.spread(this.options.backoffMax, this.options.jitter);
  }

  private spread(base: number, jitter: number): number {
    if (base <= 0 || jitter <= 0) return base;
    return Math.max(0, Math.round(base * (1 - jitter + 2 * jitter * this.random())));
  }

  /** The streak of a slot after a failure: reset first when the failed worker had been stable. */
  nextStreak(streak: number, readyForMs: number | undefined): number {
    if (readyForMs !== undefined && readyForMs >= this.options.stableAfter) return 1;
    return streak + 1;
  }

  /** Record a failure at `now`; true when the breaker is open (too many failures in the window). */
  recordFailure(now: number): boolean {
    this.failures.push(now);
    this.lastFailureAt = now;
    this.prune(now);
    return this.failures.length >= this.options.maxFailures;
  }

  /** Failures within the window ending at `now`. */
  recentFailures(now: number): number {
    this.prune(now);
    return this.failures.length;
  }

  /** True when no failure happened for `stableAfter` ms. */
  quietSince(now: number): boolean {
    return now - this.lastFailureAt >= this.options.stableAfter;
  }

  /** Close the breaker: forget the failures in the window. */
  reset(): void {
    this.failures = [];
  }

  private prune(now: number): void {
    const from = now - this.options.window;
    let drop = 0;
    while (drop < this.failures.length && this.failures[drop]! <= from) drop++;
    if (drop > 0) this.failures.splice(0, drop);
  }
}
