export { Pool } from './pool/pool.js';
export type { ToolStream } from './pool/stream.js';
export type { ToolInfo, ToolParameter } from './pool/tools.js';
export type { PoolStats, WorkerStats } from './pool/stats.js';
export type { Summary } from './pool/histogram.js';
export type { PoolEventIterator, PoolIteratorEvent, EventsDroppedEvent, EventsOptions } from './pool/event-iterator.js';
export type {
  PoolOptions,
  RestartOptions,
  ResolvedRestartOptions,
  ResolvedPoolOptions,
  CallOptions,
  ExecuteOptions,
  StreamOptions,
} from './options.js';
export {
  CHANNEL_NAMES,
  type PoolEvent,
  type PoolEventMap,
  type PoolState,
  type PoolEventType,
  type WorkerExitReason,
  type RecycleReason,
  type WorkerRecycleEvent,
  type WorkerRestartEvent,
  type WorkerSpawnEvent,
  type WorkerReadyEvent,
  type WorkerExitEvent,
  type LogEvent,
  type PoolStateEvent,
} from './events.js';
export {
  ERROR_CODES,
  type ErrorCode,
  type ErrorFields,
  SnakepitError,
  PythonError,
  CallTimeoutError,
  QueueTimeoutError,
  PoolSaturatedError,
  PoolClosedError,
  PoolFailedError,
  WorkerCrashedError,
  WorkerStartError,
  ToolNotFoundError,
  InvalidArgumentsError,
  NotStreamingError,
  EncodeError,
  PayloadTooLargeError,
  ProtocolError,
  CallAbortedError,
  CancelledError,
  InvalidOptionsError,
} from './errors.js';
export { PROTOCOL_VERSION } from './protocol/messages.js';
