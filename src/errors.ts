/**
 * One error base class with a stable `code`. Callers match on `err.code` (or `instanceof`); the table
 * of codes is in docs/errors.md and is checked against `ERROR_CODES` by a test.
 */

export const ERROR_CODES = [
  'PYTHON_ERROR',
  'TIMEOUT',
  'QUEUE_TIMEOUT',
  'POOL_SATURATED',
  'POOL_CLOSED',
  'POOL_FAILED',
  'WORKER_CRASHED',
  'WORKER_START_FAILED',
  'TOOL_NOT_FOUND',
  'INVALID_ARGUMENTS',
  'NOT_STREAMING',
  'ENCODE_ERROR',
  'PAYLOAD_TOO_LARGE',
  'PROTOCOL_ERROR',
  'ABORTED',
  'CANCELLED',
  'INVALID_OPTIONS',
  'PYTHON_ENV_FAILED',
  // sessions, references, allowlisted calls, host tools
  'SESSION_LOST',
  'SESSION_CLOSED',
  'SESSION_BUSY',
  'TOO_MANY_SESSIONS',
  'INVALID_REF',
  'TOO_MANY_REFS',
  'PERMISSION_DENIED',
  'NESTED_CALL_BLOCKED',
  // cluster (src/cluster, docs/cluster.md)
  'AGENT_LOST',
  'NO_AGENTS',
  'CLUSTER_UNAVAILABLE',
  // security
  'SANDBOX_UNAVAILABLE',
  // serving
  'QUOTA_EXCEEDED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Structured fields an error may carry; all optional. */
export interface ErrorFields {
  cause?: unknown;
  retryable?: boolean;
  workerId?: number;
  pid?: number;
  tool?: string;
  requestId?: number;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  phase?: string;
  stderrTail?: string;
}

export class SnakepitError extends Error {
  readonly code: ErrorCode;
  /** True when the same call may succeed if tried again (it never ran, or its worker died). */
  readonly retryable: boolean;
  readonly workerId: number | undefined;
  readonly pid: number | undefined;
  readonly tool: string | undefined;
  readonly requestId: number | undefined;

  constructor(code: ErrorCode, message: string, fields: ErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = fields.retryable ?? false;
    this.workerId = fields.workerId;
    this.pid = fields.pid;
    this.tool = fields.tool;
    this.requestId = fields.requestId;
  }
}

/** The Python tool raised. `traceback` is the formatted Python traceback. */
export class PythonError extends SnakepitError {
  readonly pythonType: string;
  readonly pythonModule: string;
  readonly traceback: string;
  constructor(
    info: { type: string; module: string; message: string; traceback: string },
    fields: ErrorFields = {},
  ) {
    const qualified = info.module && info.module !== 'builtins' ? `${info.module}.${info.type}` : info.type;
    super('PYTHON_ERROR', `${qualified}: ${info.message}`, fields);
    this.pythonType = info.type;
    this.pythonModule = info.module;
    this.traceback = info.traceback;
  }
}

/** The call's deadline passed while it ran; a cancel was sent to the worker. */
export class CallTimeoutError extends SnakepitError {
  readonly timeoutMs: number;
  /** True when a stream's `idleTimeout` passed (no chunk for that long), false for the call's deadline. */
  readonly idle: boolean;
  constructor(tool: string, timeoutMs: number, fields: ErrorFields = {}, idle = false) {
    const message = idle
      ? `stream of ${tool} sent no chunk for ${timeoutMs} ms (idleTimeout)`
      : `call to ${tool} timed out after ${timeoutMs} ms`;
    super('TIMEOUT', message, { tool, ...fields });
    this.timeoutMs = timeoutMs;
    this.idle = idle;
  }
}

/** The call waited in the queue past its queue timeout (or its deadline); it was never executed. */
export class QueueTimeoutError extends SnakepitError {
  constructor(tool: string, waitedMs: number, fields: ErrorFields = {}) {
    super('QUEUE_TIMEOUT', `call to ${tool} waited ${waitedMs} ms in the queue and was never run`, {
      tool,
      retryable: true,
      ...fields,
    });
  }
}

export class PoolSaturatedError extends SnakepitError {
  constructor(maxQueue: number, fields: ErrorFields = {}) {
    super('POOL_SATURATED', `pool queue is full (maxQueue ${maxQueue}); the call was not accepted`, {
      retryable: true,
      ...fields,
    });
  }
}

export class PoolClosedError extends SnakepitError {
  constructor(message = 'pool is closed', fields: ErrorFields = {}) {
    super('POOL_CLOSED', message, fields);
  }
}

/**
 * The pool's crash-loop breaker is open: workers failed too often within the restart window. New calls
 * are rejected at once (they never run) until the pool recovers after a stable period.
 */
export class PoolFailedError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('POOL_FAILED', message, { retryable: true, ...fields });
  }
}

/** A worker process died (or was killed) while the call was in flight. */
export class WorkerCrashedError extends SnakepitError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
  constructor(message: string, fields: ErrorFields = {}) {
    super('WORKER_CRASHED', message, { retryable: true, ...fields });
    this.exitCode = fields.exitCode ?? null;
    this.signal = fields.signal ?? null;
    this.stderrTail = fields.stderrTail ?? '';
  }
}

/** A worker could not start: bad executable, adapter import or setup failure, handshake failure. */
export class WorkerStartError extends SnakepitError {
  readonly phase: string;
  readonly stderrTail: string;
  readonly pythonTraceback: string;
  constructor(message: string, fields: ErrorFields & { pythonTraceback?: string } = {}) {
    super('WORKER_START_FAILED', message, fields);
    this.phase = fields.phase ?? 'start';
    this.stderrTail = fields.stderrTail ?? '';
    this.pythonTraceback = fields.pythonTraceback ?? '';
  }
}

export class ToolNotFoundError extends SnakepitError {
  readonly available: readonly string[];
  constructor(tool: string, available: readonly string[], fields: ErrorFields = {}) {
    const list = available.length ? available.join(', ') : '(none)';
    super('TOOL_NOT_FOUND', `no tool named ${JSON.stringify(tool)}; available tools: ${list}`, {
      tool,
      ...fields,
    });
    this.available = available;
  }
}

export class InvalidArgumentsError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('INVALID_ARGUMENTS', message, fields);
  }
}

/** `execute` on a generator tool (use `stream`), or `stream` on a plain tool. */
export class NotStreamingError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('NOT_STREAMING', message, fields);
  }
}

/** A value has no wire encoding; the message names the JavaScript or Python type. */
export class EncodeError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('ENCODE_ERROR', message, fields);
  }
}

export class PayloadTooLargeError extends SnakepitError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number, what: string, fields: ErrorFields = {}) {
    super('PAYLOAD_TOO_LARGE', `${what} of ${size} bytes is over maxPayload (${limit} bytes)`, fields);
    this.size = size;
    this.limit = limit;
  }
}

/** The worker broke the protocol (garbage on its pipe, oversized frame, wrong version). */
export class ProtocolError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('PROTOCOL_ERROR', message, fields);
  }
}

/** The caller's AbortSignal fired. `cause` is the signal's reason. */
export class CallAbortedError extends SnakepitError {
  constructor(tool: string, reason: unknown, fields: ErrorFields = {}) {
    super('ABORTED', `call to ${tool} was aborted`, { tool, cause: reason, ...fields });
  }
}

/** The worker reported the call cancelled (for example a stream the consumer left). */
export class CancelledError extends SnakepitError {
  constructor(tool: string, fields: ErrorFields = {}) {
    super('CANCELLED', `call to ${tool} was cancelled`, { tool, ...fields });
  }
}

export class InvalidOptionsError extends SnakepitError {
  constructor(message: string) {
    super('INVALID_OPTIONS', message);
  }
}

/** A managed Python environment (`python: { packages | requirements }`) could not be built. */
export class PythonEnvironmentError extends SnakepitError {
  /** The package the installer could not find, when it named one. */
  readonly package: string | undefined;
  /** The installer's last output lines. */
  readonly output: string;
  constructor(message: string, info: { package?: string | undefined; output?: string; cause?: unknown } = {}) {
    super('PYTHON_ENV_FAILED', message, { cause: info.cause });
    this.package = info.package;
    this.output = info.output ?? '';
  }
}

// ------------------------------------------------------------------------------------------------
// Sessions, references, allowlisted calls and host tools.

/** Why a session lost its Python state. */
export type SessionLostReason = 'worker-exit' | 'expired' | 'recycled' | 'agent-lost';

/**
 * The session's Python state is gone: its worker died (or was recycled), or it sat idle past
 * `sessionTtl`. Its calls are never moved silently to another worker; open a new session.
 */
export class SessionLostError extends SnakepitError {
  readonly sessionId: string;
  readonly reason: SessionLostReason;
  constructor(sessionId: string, reason: SessionLostReason, message: string, fields: ErrorFields = {}) {
    super('SESSION_LOST', message, fields);
    this.sessionId = sessionId;
    this.reason = reason;
  }
}

/** The session was closed with `close()`; it takes no more calls. */
export class SessionClosedError extends SnakepitError {
  readonly sessionId: string;
  constructor(sessionId: string, fields: ErrorFields = {}) {
    super('SESSION_CLOSED', `session ${JSON.stringify(sessionId)} is closed`, fields);
    this.sessionId = sessionId;
  }
}

/** The session's worker had no free slot and the session was opened with `{ busy: 'fail' }`. */
export class SessionBusyError extends SnakepitError {
  readonly sessionId: string;
  constructor(sessionId: string, fields: ErrorFields = {}) {
    super('SESSION_BUSY', `the worker of session ${JSON.stringify(sessionId)} is busy; the call was not run`, {
      retryable: true,
      ...fields,
    });
    this.sessionId = sessionId;
  }
}

/** `maxSessions` sessions are open already. */
export class TooManySessionsError extends SnakepitError {
  readonly limit: number;
  constructor(limit: number) {
    super('TOO_MANY_SESSIONS', `${limit} sessions are open (maxSessions); close one before opening another`, {
      retryable: true,
    });
    this.limit = limit;
  }
}

/** A Python object reference was used after its release, outside its session, or is unknown. */
export class InvalidRefError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('INVALID_REF', message, fields);
  }
}

/** A session already holds `maxRefs` references; release some before creating more. */
export class TooManyRefsError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('TOO_MANY_REFS', message, fields);
  }
}

/** A dotted name passed to `pool.python.call` / `create` is not allowed by the pool's `allow` list. */
export class PermissionDeniedError extends SnakepitError {
  /** The dotted name that was refused. */
  readonly target: string;
  constructor(target: string, message: string, fields: ErrorFields = {}) {
    super('PERMISSION_DENIED', message, fields);
    this.target = target;
  }
}

/**
 * A host tool called Python again while no worker slot was free for the nested call. Waiting could
 * deadlock (the slot it waits for may be held by the call that is waiting on it), so it fails at once.
 */
export class NestedCallBlockedError extends SnakepitError {
  constructor(tool: string, message: string, fields: ErrorFields = {}) {
    super('NESTED_CALL_BLOCKED', message, { tool, retryable: true, ...fields });
  }
}

/**
 * `options.sandbox` was asked for but this platform cannot provide it (not Linux, no bubblewrap, or
 * namespaces denied). A pool never runs unconfined instead. `missing` names what is missing.
 */
export class SandboxUnavailableError extends SnakepitError {
  readonly missing: string;
  constructor(missing: string, message: string) {
    super('SANDBOX_UNAVAILABLE', message);
    this.missing = missing;
  }
}

/** Which quota of a tenant refused a call. */
export type QuotaKind = 'rate' | 'concurrency' | 'queue';

/**
 * A tenant's quota refused the call before it was queued (it never ran). `retryAfterMs` says when a
 * retry may pass: for the rate quota the time until a token is free; otherwise an estimate.
 */
export class QuotaExceededError extends SnakepitError {
  readonly tenant: string;
  readonly quota: QuotaKind;
  readonly retryAfterMs: number;
  constructor(message: string, tenant: string, quota: QuotaKind, retryAfterMs: number, fields: ErrorFields = {}) {
    super('QUOTA_EXCEEDED', message, { retryable: true, ...fields });
    this.tenant = tenant;
    this.quota = quota;
    this.retryAfterMs = retryAfterMs;
  }
}

// ------------------------------------------------------------------------------------------------
// Cluster: remote pools served by agents on NATS (docs/cluster.md).

/**
 * The agent running the call went away (its process died, its machine left the network, or its
 * heartbeats stopped) while the call was in flight. The call may or may not have run: it is retried
 * on another agent only when it was marked idempotent.
 */
export class AgentLostError extends SnakepitError {
  readonly agent: string;
  constructor(agent: string, message: string, fields: ErrorFields = {}) {
    super('AGENT_LOST', message, { retryable: true, ...fields });
    this.agent = agent;
  }
}

/** No agent of the remote pool is alive (or none answered: NATS "no responders"); the call never ran. */
export class NoAgentsError extends SnakepitError {
  readonly pool: string;
  constructor(pool: string, message: string, fields: ErrorFields = {}) {
    super('NO_AGENTS', message, { retryable: true, ...fields });
    this.pool = pool;
  }
}

/**
 * The NATS side is unusable: the optional `nats` package is not installed, the server cannot be
 * reached, authentication or TLS failed, or the connection closed.
 */
export class ClusterUnavailableError extends SnakepitError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('CLUSTER_UNAVAILABLE', message, fields);
  }
}
