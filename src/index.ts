export { Pool } from './pool/pool.js';
export { RemotePool, type RemotePoolStats, type RemotePoolEventMap } from './cluster/remote-pool.js';
export type { RemoteSession } from './cluster/remote-session.js';
export { Agent, type AgentOptions } from './cluster/agent.js';
export type { PoolLike, SessionLike, CallStream, BasicStats, PythonCaller, ConnectOptions, NatsConnectOptions } from './cluster/types.js';
export type { Session, SessionState } from './pool/session.js';
export { PythonRef } from './pool/python-refs.js';
export type { PythonCalls } from './pool/python-calls.js';
export type { HostToolFn, HostToolContext, HostToolInfo } from './pool/host-tools.js';
export type { ToolStream } from './pool/stream.js';
export type { ToolInfo, ToolParameter } from './pool/tools.js';
export type { TypeNode, ObjectField } from './codegen/type-node.js';
export { generateClient, type GenerateOptions } from './codegen/generate.js';
export { resolvePython, type PythonChoice, type PythonSearch } from './python-env/resolve.js';
export type { PoolStats, WorkerStats } from './pool/stats.js';
export type { Summary } from './pool/histogram.js';
export type { PoolEventIterator, PoolIteratorEvent, EventsDroppedEvent, EventsOptions } from './pool/event-iterator.js';
export type {
  PoolOptions,
  RestartOptions,
  ResolvedRestartOptions,
  ResolvedPoolOptions,
} from './options.js';
export type { CallOptions, ExecuteOptions, StreamOptions, SessionOptions, HostToolOptions, PythonCallOptions } from './call-options.js';
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
  type ZygoteReadyEvent,
  type ZygoteExitEvent,
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
  PythonEnvironmentError,
  type SessionLostReason,
  SessionLostError,
  SessionClosedError,
  SessionBusyError,
  TooManySessionsError,
  InvalidRefError,
  TooManyRefsError,
  PermissionDeniedError,
  NestedCallBlockedError,
  AgentLostError,
  NoAgentsError,
  ClusterUnavailableError,
  SandboxUnavailableError,
  QuotaExceededError,
  type QuotaKind,
} from './errors.js';
export type { ServingOptions, TenantQuota, ToolCacheOptions } from './serving/options.js';
export type { ServingStats } from './serving/front.js';
export type { CacheStats } from './serving/cache.js';
export type { BatchStats } from './serving/batcher.js';
export type { TenantStats } from './serving/tenants.js';
export type { MeterRecord } from './serving/meter.js';
export { createGateway, type Gateway, type GatewayOptions, type GatewayAuth } from './serving/gateway/handler.js';
export { STATUS_BY_CODE } from './serving/gateway/problem.js';
export { PROTOCOL_VERSION } from './protocol/messages.js';
// Observability (docs/observability.md).
export type { LogRecord, LogsOption } from './telemetry/logs.js';
export { CALL_CHANNEL, type CallMessage } from './telemetry/telemetry.js';
export { serveDashboard, type Dashboard, type DashboardOptions } from './dashboard/server.js';
export {
  NDArray,
  type DType,
  type DTypeArrayMap,
  type NumericArray,
  type TimeDType,
  type TimeUnit,
  type ElementOf,
  type Nested,
} from './protocol/ndarray.js';
export { useArrow, type ArrowModule } from './data/arrow.js';
export { jsonReplacer } from './data/json.js';
export { Decimal } from './protocol/decimal.js';
export { verifyAuditLog, type AuditVerification } from './audit/verify.js';
export type { AuditOptions, AuditRecord } from './audit/audit-log.js';
export type { SandboxOptions } from './security/sandbox.js';
