/**
 * Pool events: discriminated unions, emitted on the pool (an EventEmitter, one event name per type)
 * and published on `node:diagnostics_channel` channels named `snakepit:<area>:<event>`. Publishing
 * costs nothing when a channel has no subscriber.
 */

import diagnostics_channel from 'node:diagnostics_channel';

export type PoolState = 'starting' | 'ready' | 'draining' | 'closed' | 'failed';

export interface WorkerSpawnEvent { type: 'workerSpawn'; workerId: number; pid: number }
export interface WorkerReadyEvent { type: 'workerReady'; workerId: number; pid: number; python: string; codec: string; startMs: number }
export interface WorkerExitEvent {
  type: 'workerExit';
  workerId: number;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it went: `crash` (unexpected), `shutdown`, `killed`, `start-failed`, `protocol-error`, `cancel-grace`. */
  reason: string;
  /** Calls that were in flight and were rejected. */
  lostCalls: number;
}
export interface LogEvent {
  type: 'log';
  workerId: number;
  pid: number | undefined;
  /** `stdout` / `stderr` lines of the process, or `worker` for `ctx.log` and bridge messages. */
  stream: 'stdout' | 'stderr' | 'worker';
  line: string;
  level: string;
  requestId: number | undefined;
}
export interface PoolStateEvent { type: 'poolState'; from: PoolState; to: PoolState }

export type PoolEvent = WorkerSpawnEvent | WorkerReadyEvent | WorkerExitEvent | LogEvent | PoolStateEvent;

export interface PoolEventMap {
  workerSpawn: [WorkerSpawnEvent];
  workerReady: [WorkerReadyEvent];
  workerExit: [WorkerExitEvent];
  log: [LogEvent];
  poolState: [PoolStateEvent];
}

export const channels = {
  workerSpawn: diagnostics_channel.channel('snakepit:worker:spawn'),
  workerReady: diagnostics_channel.channel('snakepit:worker:ready'),
  workerExit: diagnostics_channel.channel('snakepit:worker:exit'),
  log: diagnostics_channel.channel('snakepit:worker:log'),
  poolState: diagnostics_channel.channel('snakepit:pool:state'),
} as const;

export const CHANNEL_NAMES = {
  workerSpawn: 'snakepit:worker:spawn',
  workerReady: 'snakepit:worker:ready',
  workerExit: 'snakepit:worker:exit',
  log: 'snakepit:worker:log',
  poolState: 'snakepit:pool:state',
} as const;
