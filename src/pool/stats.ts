import type { ServingStats } from '../serving/front.js';
/** The immutable snapshot returned by `pool.stats()`. */

import { SnakepitError, type ErrorCode } from '../errors.js';
import type { PoolState, WorkerExitReason } from '../events.js';
import type { WorkerHandle } from '../worker/worker.js';
import { Histogram, type Summary } from './histogram.js';

export interface WorkerStats {
  readonly id: number;
  readonly pid: number | undefined;
  readonly state: string;
  readonly inFlight: number;
  readonly completed: number;
  /** Wire codec negotiated with this worker (`msgpack` or `json`), once it is ready. */
  readonly codec: string | undefined;
  /** Round-trip time of the worker's last answered heartbeat, in milliseconds. */
  readonly heartbeatRtt: number | undefined;
}

export interface PoolStats {
  readonly state: PoolState;
  /** The serving layer: result cache hits and misses, batch sizes per batched tool, tenants. */
  readonly serving?: ServingStats;
  /** Configured number of workers. */
  readonly size: number;
  /**
   * Workers by state; `busy` counts ready workers with at least one call in flight; `retiring` counts
   * workers being recycled (they finish their calls and take no new ones; not counted as ready).
   */
  readonly workers: {
    readonly starting: number;
    readonly ready: number;
    readonly busy: number;
    readonly stopping: number;
    readonly retiring: number;
  };
  readonly workerList: readonly WorkerStats[];
  readonly inFlight: number;
  readonly queued: number;
  readonly peakQueued: number;
  /**
   * Calls made through execute/stream, including ones refused at admission (unknown tool, bad
   * arguments, pool closed or failed, saturated): `submitted = succeeded + failed + in flight + queued`.
   */
  readonly submitted: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failedByCode: Readonly<Partial<Record<ErrorCode, number>>>;
  /** Workers that died unexpectedly after they were ready (not counting `cancelKills`). */
  readonly crashes: number;
  /** Workers the pool killed `cancelGrace` ms after a call it gave up on (deadline, abort) ran on. */
  readonly cancelKills: number;
  /** Replacements of dead workers that became ready. */
  readonly restarts: number;
  /** Worker slots waiting for a restart (backoff). */
  readonly pendingRestarts: number;
  /** Workers recycled (maxRequests, ttl, maxRss, MemoryError, `pool.recycle`). */
  readonly recycles: number;
  /** Workers killed because they stopped answering heartbeats. */
  readonly wedged: number;
  /** Times the crash-loop breaker moved the pool to `failed`. */
  readonly breakerTrips: number;
  /** Idempotent calls tried again after their worker crashed. */
  readonly retries: number;
  /** Leftover processes of dead runs killed when this pool started (run registry). */
  readonly reaped: number;
  /** Fork-server mode: the zygote's pid (undefined while it restarts), its restarts and crashes. */
  readonly forkServer?: { readonly pid: number | undefined; readonly restarts: number; readonly crashes: number };
  /** Milliseconds from submission to dispatch. */
  readonly waitTime: Summary;
  /** Milliseconds from dispatch to the caller's settlement. */
  readonly runTime: Summary;
}

/** The call and worker counters of one pool: what `stats()` reports besides the workers' states. */
export class PoolCounters {
  submitted = 0;
  succeeded = 0;
  failed = 0;
  readonly failedByCode: Partial<Record<ErrorCode, number>> = {};
  readonly waitTime = new Histogram();
  readonly runTime = new Histogram();
  crashes = 0;
  cancelKills = 0;
  retries = 0;

  /** A call refused at admission counts as submitted and failed, like one refused later. */
  refused(err: unknown): void {
    this.submitted++;
    this.countFailure(err instanceof SnakepitError ? err.code : 'INVALID_ARGUMENTS');
  }

  settled(dispatchedAt: number, error: SnakepitError | undefined, now = performance.now()): void {
    if (dispatchedAt > 0) this.runTime.record(now - dispatchedAt);
    if (error === undefined) this.succeeded++;
    else this.countFailure(error.code);
  }

  /** A worker that had been ready exited: a crash unless the pool asked for it (or killed it after cancelGrace). */
  workerExited(reason: WorkerExitReason): void {
    if (reason === 'cancel-grace') this.cancelKills++;
    else if (reason !== 'shutdown' && reason !== 'killed' && reason !== 'recycled') this.crashes++;
  }

  private countFailure(code: ErrorCode): void {
    this.failed++;
    this.failedByCode[code] = (this.failedByCode[code] ?? 0) + 1;
  }
}

/** The workers' part of a snapshot. */
export function workerSnapshot(list: readonly WorkerHandle[]): Pick<PoolStats, 'workers' | 'workerList' | 'inFlight'> {
  const byState = { starting: 0, ready: 0, busy: 0, stopping: 0, retiring: 0 };
  let inFlight = 0;
  const workers = list.map((w) => {
    inFlight += w.pending.size;
    if (w.state === 'ready' && w.retiring) byState.retiring++;
    else if (w.state === 'ready') {
      if (w.pending.size > 0) byState.busy++;
      byState.ready++;
    } else if (w.state === 'starting') byState.starting++;
    else if (w.state === 'stopping') byState.stopping++;
    return Object.freeze({
      id: w.id,
      pid: w.pid,
      state: w.retiring && w.state === 'ready' ? 'retiring' : w.state,
      inFlight: w.pending.size,
      completed: w.completed,
      codec: w.info?.codec,
      heartbeatRtt: w.heartbeat.lastRtt,
    });
  });
  return { workers: Object.freeze(byState), workerList: Object.freeze(workers), inFlight };
}
