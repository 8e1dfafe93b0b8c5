/**
 * Per-call options (execute, stream, sessions, host tools, allowlisted Python calls): their types and
 * checks. Pool options are in options.ts.
 */

import { checkCallDurations } from './durations.js';
import { describe, fail } from './option-checks.js';

/** Per-call options of `execute` and `stream`. */
export interface CallOptions {
  /** Deadline in milliseconds, queue time included (0: none). Default: the pool's `timeout`. */
  timeout?: number;
  /** Abort the call: before dispatch it is never run; after, a cancel goes to the worker. */
  signal?: AbortSignal;
  /**
   * The tool may safely run more than once: if its worker crashes, the call is tried again on another
   * worker, up to the pool's `retries` times. Python exceptions are never retried. Default false.
   */
  idempotent?: boolean;
  /** Who the call is made for (a user, a tenant): recorded by the audit log. */
  principal?: string;
  /**
   * The tenant the call is made for: its quotas and its share of the pool apply (pool option
   * `tenants`, docs/serving.md). Default `default`.
   */
  tenant?: string;
}

export interface StreamOptions extends CallOptions {
  /** Milliseconds allowed between two chunks (0: none). Default 0. */
  idleTimeout?: number;
  /** Chunks the worker may send ahead of the consumer. Default: the pool's `streamWindow`. */
  window?: number;
}

export interface ExecuteOptions extends CallOptions {
  /** For a generator tool: collect every chunk into an array instead of rejecting with NOT_STREAMING. */
  collect?: boolean;
}

const CALL_KEYS = new Set(['timeout', 'signal', 'idleTimeout', 'window', 'collect', 'idempotent', 'tenant', 'principal']);

/** Validates per-call options; returns the deadline in ms (0: none). Throws InvalidOptionsError. */
export function checkCallOptions(options: unknown, poolTimeout: number): number {
  if (options === undefined) return poolTimeout;
  if (options === null || typeof options !== 'object') fail('call options must be an object');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!CALL_KEYS.has(key)) fail(`call option ${key} is not known (known: ${[...CALL_KEYS].join(', ')})`);
  }
  checkCallDurations(o);
  if (o.principal !== undefined && (typeof o.principal !== 'string' || o.principal.length > 256)) {
    fail(`call option principal must be a string of at most 256 characters, got ${describe(o.principal)}`);
  }
  for (const key of ['timeout', 'idleTimeout'] as const) {
    const v = o[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      fail(`call option ${key} must be a number of milliseconds >= 0, got ${describe(v)}`);
    }
  }
  const w = o.window;
  if (w !== undefined && (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > 65_536)) {
    fail(`call option window must be an integer from 1 to 65536, got ${describe(w)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) fail('call option signal must be an AbortSignal');
  if (o.collect !== undefined && typeof o.collect !== 'boolean') fail('call option collect must be a boolean');
  if (o.idempotent !== undefined && typeof o.idempotent !== 'boolean') fail('call option idempotent must be a boolean');
  if (o.tenant !== undefined && (typeof o.tenant !== 'string' || o.tenant.length === 0 || o.tenant.length > 256)) {
    fail(`call option tenant must be a non-empty string of at most 256 characters, got ${describe(o.tenant)}`);
  }
  return (o.timeout as number | undefined) ?? poolTimeout;
}

// ------------------------------------------------------------------------------------------------
// Sessions, host tools and allowlisted Python calls.

export interface SessionOptions {
  /** When the session's worker has no free slot: wait in that worker's queue, or fail with SESSION_BUSY. Default `queue`. */
  busy?: 'queue' | 'fail';
  /**
   * When the session's worker dies: `fail` (the session is lost, its calls reject with SESSION_LOST), or
   * `rebind` (for stateless uses: later calls start afresh on another worker). Default `fail`.
   */
  onLost?: 'fail' | 'rebind';
}

export interface ResolvedSessionOptions {
  readonly busy: 'queue' | 'fail';
  readonly onLost: 'fail' | 'rebind';
}

const SESSION_KEYS = new Set(['busy', 'onLost']);

export function checkSessionOptions(id: unknown, options: unknown): ResolvedSessionOptions {
  if (id !== undefined && (typeof id !== 'string' || id === '' || id.length > 256)) {
    fail(`session id must be a non-empty string of at most 256 characters, got ${describe(id)}`);
  }
  if (options === undefined) return DEFAULT_SESSION_OPTIONS;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail('session options must be an object');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!SESSION_KEYS.has(key)) fail(`session option ${key} is not known (known: ${[...SESSION_KEYS].join(', ')})`);
  }
  const busy = o.busy ?? 'queue';
  if (busy !== 'queue' && busy !== 'fail') fail(`session option busy must be "queue" or "fail", got ${describe(busy)}`);
  const onLost = o.onLost ?? 'fail';
  if (onLost !== 'fail' && onLost !== 'rebind') fail(`session option onLost must be "fail" or "rebind", got ${describe(onLost)}`);
  return Object.freeze({ busy, onLost });
}

const DEFAULT_SESSION_OPTIONS: ResolvedSessionOptions = Object.freeze({ busy: 'queue', onLost: 'fail' });

export interface HostToolOptions {
  /** Shown to Python by `ctx.host_tools()`. */
  description?: string;
  /**
   * A JSON Schema of the keyword arguments, shown to Python by `ctx.host_tools()`. When it has a
   * `required` list, a call that lacks one of them fails with INVALID_ARGUMENTS before the tool runs.
   */
  parameters?: Record<string, unknown>;
}

/** Validates `registerTool(name, fn, options)`. */
export function checkHostTool(name: unknown, fn: unknown, options: unknown): { description: string; parameters: Readonly<Record<string, unknown>> } {
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(name)) {
    fail(`host tool name must be a string of letters, digits, _ . - (at most 128, not starting with a digit or $), got ${describe(name)}`);
  }
  if (typeof fn !== 'function') fail(`host tool ${name}: fn must be a function, got ${describe(fn)}`);
  if (options === undefined) return { description: '', parameters: Object.freeze({}) };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail(`host tool ${name}: options must be an object`);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'description' && key !== 'parameters') fail(`host tool option ${key} is not known (known: description, parameters)`);
  }
  if (o.description !== undefined && typeof o.description !== 'string') {
    fail(`host tool option description must be a string, got ${describe(o.description)}`);
  }
  const parameters = o.parameters ?? {};
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters)) {
    fail(`host tool option parameters must be an object (a JSON Schema), got ${describe(parameters)}`);
  }
  const required = (parameters as { required?: unknown }).required;
  if (required !== undefined && (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))) {
    fail('host tool option parameters.required must be an array of strings');
  }
  return { description: (o.description as string | undefined) ?? '', parameters: Object.freeze({ ...(parameters as Record<string, unknown>) }) };
}

/** Options of `python.call`, `python.create`, and a reference's `call` and `get`. */
export interface PythonCallOptions extends CallOptions {
  /** Keyword arguments of the Python callable. */
  kwargs?: Record<string, unknown>;
}

const PYTHON_CALL_KEYS = new Set(['timeout', 'signal', 'kwargs', 'principal']);

/** Validates PythonCallOptions; returns the keyword arguments and the plain call options. */
export function checkPythonCallOptions(
  options: unknown,
  poolTimeout: number,
): { kwargs: Record<string, unknown>; call: CallOptions; timeout: number } {
  if (options === undefined) return { kwargs: {}, call: {}, timeout: poolTimeout };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail('call options must be an object');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!PYTHON_CALL_KEYS.has(key)) fail(`call option ${key} is not known (known: ${[...PYTHON_CALL_KEYS].join(', ')})`);
  }
  const kwargs = o.kwargs ?? {};
  if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
    fail(`call option kwargs must be an object of keyword arguments, got ${describe(kwargs)}`);
  }
  const call: CallOptions = {};
  if (o.timeout !== undefined) call.timeout = o.timeout as number;
  if (o.signal !== undefined) call.signal = o.signal as AbortSignal;
  if (o.principal !== undefined) call.principal = o.principal as string;
  const timeout = checkCallOptions(call, poolTimeout);
  return { kwargs: kwargs as Record<string, unknown>, call, timeout };
}
