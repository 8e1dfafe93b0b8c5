import type { ServingStats } from '../serving/front.js';
/** The immutable snapshot returned by `pool.stats()`. */

import type { ErrorCode } from '../errors.js';
import type { PoolState } from '../events.js';
import type { Summary } from './histogram.js';

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
  /** Calls accepted by execute/stream (including ones rejected at once for saturation). */
  readonly submitted: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failedByCode: Readonly<Partial<Record<ErrorCode, number>>>;
  /** Workers that died unexpectedly after they were ready. */
  readonly crashes: number;
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
  /** Milliseconds from submission to dispatch. */
  readonly waitTime: Summary;
  /** Milliseconds from dispatch to the caller's settlement. */
  readonly runTime: Summary;
}
