/**
 * At-most-once by default: a call whose worker died is rejected with WORKER_CRASHED. Only a call the
 * caller marked `idempotent` is tried again, on another worker, at most `retries` more times, and only
 * when nothing of it reached the caller yet (no stream chunk) and its deadline has not passed. Python
 * exceptions, timeouts and aborts are never retried. A poison call that crashes every worker it
 * reaches therefore fails after at most `retries + 1` crashes.
 */

import { WorkerCrashedError, type SnakepitError } from '../errors.js';
import type { Call } from '../pool/call.js';

export type LostOutcome = { retry: true } | { retry: false; error: SnakepitError };

export function lostCallOutcome(call: Call, error: SnakepitError, retries: number, canQueue: boolean): LostOutcome {
  if (error.code !== 'WORKER_CRASHED' || !call.idempotent || call.chunks > 0) return { retry: false, error };
  if (call.attempts > retries) {
    const crashed = error as WorkerCrashedError;
    return {
      retry: false,
      error: new WorkerCrashedError(
        `call to ${call.tool} crashed ${call.attempts} workers (retries ${retries}); it is not tried again. Last: ${error.message}`,
        {
          workerId: error.workerId,
          pid: error.pid,
          tool: call.tool,
          requestId: call.id,
          exitCode: crashed.exitCode,
          signal: crashed.signal,
          stderrTail: crashed.stderrTail,
          retryable: false,
          cause: error,
        },
      ),
    };
  }
  if (!canQueue) return { retry: false, error };
  if (call.timeoutMs > 0 && performance.now() - call.submittedAt >= call.timeoutMs) return { retry: false, error };
  return { retry: true };
}
