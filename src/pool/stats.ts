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
}

export interface PoolStats {
  readonly state: PoolState;
  /** Configured number of workers. */
  readonly size: number;
  /** Workers by state; `busy` counts ready workers with at least one call in flight. */
  readonly workers: { readonly starting: number; readonly ready: number; readonly busy: number; readonly stopping: number };
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
  /** Replacement workers started. */
  readonly restarts: number;
  /** Milliseconds from submission to dispatch. */
  readonly waitTime: Summary;
  /** Milliseconds from dispatch to the caller's settlement. */
  readonly runTime: Summary;
}
