/**
 * Pool events: discriminated unions, emitted on the pool (an EventEmitter, one event name per type),
 * published on `node:diagnostics_channel` channels named `snakepit:<area>:<event>`, and readable as an
 * async iterator with `pool.events()`. Publishing costs nothing when a channel has no subscriber.
 */

import { type Channel, channel } from 'node:diagnostics_channel';

/**
 * `starting` until every worker is ready; `ready` at full capacity; `degraded` while fewer than `size`
 * workers serve (replacements under way: calls still queue and run); `draining` after `close()`;
 * `closed`; `failed` while the crash-loop breaker is open (calls are rejected with POOL_FAILED).
 */
export type PoolState = 'starting' | 'ready' | 'degraded' | 'draining' | 'closed' | 'failed';

/** Why a worker exited. */
export type WorkerExitReason =
  | 'crash'
  | 'shutdown'
  | 'killed'
  | 'start-failed'
  | 'protocol-error'
  | 'cancel-grace'
  | 'wedged'
  | 'recycled';

/** Why a worker was recycled. */
export type RecycleReason = 'maxRequests' | 'ttl' | 'rss' | 'memory' | 'manual';

export interface WorkerSpawnEvent { type: 'workerSpawn'; workerId: number; pid: number }
export interface WorkerReadyEvent { type: 'workerReady'; workerId: number; pid: number; python: string; codec: string; startMs: number }
export interface WorkerExitEvent {
  type: 'workerExit';
  workerId: number;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /**
   * Why it went: `crash` (unexpected), `shutdown`, `killed`, `start-failed`, `protocol-error`,
   * `cancel-grace`, `wedged` (missed heartbeats), `recycled`.
   */
  reason: WorkerExitReason;
  /** Calls that were in flight and were rejected (or, for idempotent ones, retried). */
  lostCalls: number;
}
/** A worker is being retired: it takes no new calls, finishes the ones it has, then exits. */
export interface WorkerRecycleEvent {
  type: 'workerRecycle';
  workerId: number;
  pid: number | undefined;
  reason: RecycleReason;
  /** The worker started to take its place. */
  replacementId: number | undefined;
}
/** A replacement for a worker that died (or failed to start) became ready. */
export interface WorkerRestartEvent {
  type: 'workerRestart';
  workerId: number;
  pid: number;
  /** Id of the worker it replaces. */
  replaces: number;
  /** Consecutive failures of this worker slot before this restart. */
  attempt: number;
  /** Backoff applied before the replacement was spawned. */
  delayMs: number;
  /** Milliseconds from the death of the old worker to the new one being ready. */
  downtimeMs: number;
}
export interface LogEvent {
  type: 'log';
  workerId: number;
  pid: number | undefined;
  /** `stdout` / `stderr` lines of the process, or `worker` for `ctx.log` and bridge messages. */
  stream: 'stdout' | 'stderr' | 'worker';
  line: string;
  /** `info`, `warning`, ... for logging records and `ctx.log`; `info` (stdout) or `stderr` for lines. */
  level: string;
  /** The call that was running when the line was printed or the record logged. */
  requestId: number | undefined;
  /** Name of the Python logger (logging records only). */
  logger?: string;
  /** Formatted exception or stack of a logging record, when it had one. */
  exception?: string;
}
/** Fork-server mode: the zygote is ready (at start, and after each restart). */
export interface ZygoteReadyEvent { type: 'zygoteReady'; pid: number; loadMs: number; restarts: number }
/**
 * Fork-server mode: the zygote died unexpectedly. Workers it forked keep running; it is started again
 * after `restartInMs` (the restart policy's backoff, or the breaker's probe pace).
 */
export interface ZygoteExitEvent {
  type: 'zygoteExit';
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  restartInMs: number | null;
}
export interface PoolStateEvent { type: 'poolState'; from: PoolState; to: PoolState; reason?: string }

export type PoolEvent =
  | WorkerSpawnEvent
  | WorkerReadyEvent
  | WorkerExitEvent
  | WorkerRecycleEvent
  | WorkerRestartEvent
  | LogEvent
  | ZygoteReadyEvent
  | ZygoteExitEvent
  | PoolStateEvent;

export interface PoolEventMap {
  workerSpawn: [WorkerSpawnEvent];
  workerReady: [WorkerReadyEvent];
  workerExit: [WorkerExitEvent];
  workerRecycle: [WorkerRecycleEvent];
  workerRestart: [WorkerRestartEvent];
  log: [LogEvent];
  zygoteReady: [ZygoteReadyEvent];
  zygoteExit: [ZygoteExitEvent];
  poolState: [PoolStateEvent];
}

export type PoolEventType = keyof PoolEventMap;

export const CHANNEL_NAMES = {
  workerSpawn: 'snakepit:worker:spawn',
  workerReady: 'snakepit:worker:ready',
  workerExit: 'snakepit:worker:exit',
  workerRecycle: 'snakepit:worker:recycle',
  workerRestart: 'snakepit:worker:restart',
  log: 'snakepit:worker:log',
  zygoteReady: 'snakepit:zygote:ready',
  zygoteExit: 'snakepit:zygote:exit',
  poolState: 'snakepit:pool:state',
} as const;

type ChannelName = keyof typeof CHANNEL_NAMES;

export const channels = Object.fromEntries(
  Object.entries(CHANNEL_NAMES).map(([key, name]) => [key, channel(name)]),
) as { readonly [K in ChannelName]: Channel };
