/**
 * The supervision options of a pool (restart policy, heartbeats, recycling, memory limit, retries,
 * the run registry's folder, signal handling; docs/supervision.md): their types and validation,
 * called from resolvePoolOptions so that every option is still checked in one pass.
 */

import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { describe, fail, integer } from '../option-checks.js';

export interface SupervisionOptions {
  /** How dead workers are replaced, and when a crash loop fails the pool. See docs/supervision.md. */
  restart?: RestartOptions;
  /** Milliseconds between heartbeat pings to each worker (0: no heartbeats). Default 2000. */
  heartbeatInterval?: number;
  /** Milliseconds a worker may leave a ping unanswered before it is declared wedged and killed. Default 10000. */
  heartbeatTimeout?: number;
  /** Recycle a worker after it completed this many calls (0: never). Default 0. */
  maxRequests?: number;
  /** Recycle a worker this many milliseconds after it became ready, give or take 10% (0: never). Default 0. */
  ttl?: number;
  /** Recycle a worker whose Python process has a resident set above this many bytes (0: never). Default 0. */
  maxRss?: number;
  /**
   * Milliseconds automatic recycling (maxRequests, ttl, maxRss, MemoryError) waits for a worker's open
   * sessions to end; after that they are lost explicitly (SESSION_LOST, reason `recycled`). Default 60000.
   */
  recycleWait?: number;
  /** Address-space limit (RLIMIT_AS) in bytes set in each worker at startup (0: none). Default 0. */
  memoryLimit?: number;
  /** Extra attempts for a call marked `idempotent` whose worker crashed. Default 2. */
  retries?: number;
  /** Folder of the run registry used to reap workers of dead hosts; `false` turns it off. */
  stateDir?: string | false;
  /** On SIGINT/SIGTERM: first signal closes the pool gracefully, a second destroys it. Default false. */
  handleSignals?: boolean;
}

/** Restart policy: exponential backoff with jitter, and a crash-loop breaker. */
export interface RestartOptions {
  /** Delay before the second consecutive restart of a worker slot (the first is immediate). Default 100. */
  backoffInitial?: number;
  /** Largest delay between restarts; also the pace of probes while the pool is failed. Default 10000. */
  backoffMax?: number;
  /** Random spread of each delay, as a fraction (0 to 1). Default 0.2. */
  jitter?: number;
  /** Failures (crashes and failed starts) within `window` that move the pool to `failed`. Default 10. */
  maxFailures?: number;
  /** Sliding window of the breaker in milliseconds. Default 60000. */
  window?: number;
  /** Milliseconds without a failure after which backoff resets and a failed pool recovers. Default 10000. */
  stableAfter?: number;
}

export interface ResolvedRestartOptions {
  readonly backoffInitial: number;
  readonly backoffMax: number;
  readonly jitter: number;
  readonly maxFailures: number;
  readonly window: number;
  readonly stableAfter: number;
}

export interface ResolvedSupervisionOptions {
  readonly restart: ResolvedRestartOptions;
  readonly heartbeatInterval: number;
  readonly heartbeatTimeout: number;
  readonly maxRequests: number;
  readonly ttl: number;
  readonly maxRss: number;
  readonly recycleWait: number;
  readonly memoryLimit: number;
  readonly retries: number;
  /** Absolute folder of the run registry, or false when it is off. */
  readonly stateDir: string | false;
  readonly handleSignals: boolean;
}

const RESTART_KNOWN = new Set(['backoffInitial', 'backoffMax', 'jitter', 'maxFailures', 'window', 'stableAfter']);

/** Smallest `memoryLimit`: below it an interpreter with a few threads cannot even start. */
const MIN_MEMORY_LIMIT = 64 * 1024 * 1024;

function resolveRestart(input: unknown): ResolvedRestartOptions {
  if (input === undefined) input = {};
  if (input === null || typeof input !== 'object' || Array.isArray(input)) fail('options.restart must be an object');
  const r = input as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!RESTART_KNOWN.has(key)) fail(`options.restart.${key} is not a restart option (known: ${[...RESTART_KNOWN].join(', ')})`);
  }
  const p = 'options.restart.';
  const jitter = r.jitter ?? 0.2;
  if (typeof jitter !== 'number' || !Number.isFinite(jitter) || jitter < 0 || jitter > 1) {
    fail(`options.restart.jitter must be a number from 0 to 1, got ${describe(jitter)}`);
  }
  const backoffInitial = integer(r, 'backoffInitial', 100, 0, Number.MAX_SAFE_INTEGER, p);
  const backoffMax = integer(r, 'backoffMax', 10_000, 0, Number.MAX_SAFE_INTEGER, p);
  if (backoffMax < backoffInitial) {
    fail(`options.restart.backoffMax (${backoffMax}) must be >= options.restart.backoffInitial (${backoffInitial})`);
  }
  return Object.freeze({
    backoffInitial,
    backoffMax,
    jitter,
    maxFailures: integer(r, 'maxFailures', 10, 1, Number.MAX_SAFE_INTEGER, p),
    window: integer(r, 'window', 60_000, 1, Number.MAX_SAFE_INTEGER, p),
    stableAfter: integer(r, 'stableAfter', 10_000, 0, Number.MAX_SAFE_INTEGER, p),
  });
}

/** `$XDG_RUNTIME_DIR/snakepit` when that is set, else `<tmpdir>/snakepit-<uid>`. */
export function defaultStateDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime) return join(runtime, 'snakepit');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(tmpdir(), `snakepit-${uid}`);
}

/** The supervision options of `options` (already an object of known keys), checked and with their defaults. */
export function resolveSupervisionOptions(options: Record<string, unknown>): ResolvedSupervisionOptions {
  const stateDirInput = options.stateDir;
  let stateDir: string | false;
  if (stateDirInput === undefined) stateDir = defaultStateDir();
  else if (stateDirInput === false) stateDir = false;
  else if (typeof stateDirInput === 'string' && stateDirInput !== '') stateDir = resolvePath(stateDirInput);
  else fail(`options.stateDir must be a non-empty string or false, got ${describe(stateDirInput)}`);

  const handleSignals = options.handleSignals ?? false;
  if (typeof handleSignals !== 'boolean') fail(`options.handleSignals must be a boolean, got ${describe(handleSignals)}`);

  const heartbeatInterval = integer(options, 'heartbeatInterval', 2_000, 0);
  const heartbeatTimeout = integer(options, 'heartbeatTimeout', 10_000, 1);
  if (heartbeatInterval > 0 && heartbeatTimeout < heartbeatInterval) {
    fail(`options.heartbeatTimeout (${heartbeatTimeout}) must be >= options.heartbeatInterval (${heartbeatInterval})`);
  }
  const memoryLimit = integer(options, 'memoryLimit', 0, 0);
  if (memoryLimit !== 0 && memoryLimit < MIN_MEMORY_LIMIT) {
    fail(`options.memoryLimit must be 0 (no limit) or at least ${MIN_MEMORY_LIMIT} bytes (64 MiB), got ${memoryLimit}`);
  }

  return {
    restart: resolveRestart(options.restart),
    heartbeatInterval,
    heartbeatTimeout,
    maxRequests: integer(options, 'maxRequests', 0, 0),
    ttl: integer(options, 'ttl', 0, 0),
    maxRss: integer(options, 'maxRss', 0, 0),
    recycleWait: integer(options, 'recycleWait', 60_000, 0),
    memoryLimit,
    retries: integer(options, 'retries', 2, 0, 100),
    stateDir,
    handleSignals,
  };
}
