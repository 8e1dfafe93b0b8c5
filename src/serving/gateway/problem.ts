/**
 * Errors as RFC 9457 problem details (`application/problem+json`), with the library's stable codes and
 * the HTTP status each code maps to.
 */

import type { ServerResponse } from 'node:http';
import { PythonError, QuotaExceededError, SnakepitError } from '../../errors.js';

/**
 * The HTTP status of each error code (anything else: 500). ABORTED is 499 (client closed request): the
 * gateway aborts a call only when its client went away, so the status is never seen by that client.
 */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = Object.freeze({
  INVALID_ARGUMENTS: 400,
  INVALID_OPTIONS: 400,
  INVALID_REF: 400,
  NOT_STREAMING: 400,
  ENCODE_ERROR: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  PERMISSION_DENIED: 403,
  TOOL_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UPGRADE_REQUIRED: 426,
  SESSION_LOST: 410,
  SESSION_CLOSED: 410,
  SESSION_BUSY: 409,
  TOO_MANY_REFS: 429,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  QUOTA_EXCEEDED: 429,
  PYTHON_ERROR: 500,
  CANCELLED: 500,
  ABORTED: 499,
  PROTOCOL_ERROR: 502,
  WORKER_START_FAILED: 503,
  PYTHON_ENV_FAILED: 503,
  SANDBOX_UNAVAILABLE: 503,
  NESTED_CALL_BLOCKED: 503,
  WORKER_CRASHED: 502,
  // cluster: the agent went away mid-call (502, like a crashed worker); no agent or no NATS (503)
  AGENT_LOST: 502,
  NO_AGENTS: 503,
  CLUSTER_UNAVAILABLE: 503,
  POOL_SATURATED: 503,
  POOL_FAILED: 503,
  POOL_CLOSED: 503,
  QUEUE_TIMEOUT: 503,
  DRAINING: 503,
  TOO_MANY_SESSIONS: 503,
  TIMEOUT: 504,
});

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [field: string]: unknown;
}

export function problemOf(error: unknown, exposeTracebacks: boolean): Problem {
  if (error instanceof SnakepitError) {
    const status = STATUS_BY_CODE[error.code] ?? 500;
    const problem: Problem = { type: `urn:snakepit:error:${error.code}`, title: error.code, status, detail: error.message, code: error.code };
    if (error.tool !== undefined) problem.tool = error.tool;
    if (error.retryable) problem.retryable = true;
    if (error instanceof QuotaExceededError) {
      problem.tenant = error.tenant;
      problem.quota = error.quota;
      problem.retryAfterMs = error.retryAfterMs;
    }
    if (error instanceof PythonError) {
      problem.pythonType = error.pythonType;
      if (exposeTracebacks) problem.traceback = error.traceback;
    }
    return problem;
  }
  return { type: 'urn:snakepit:error:INTERNAL', title: 'INTERNAL', status: 500, detail: 'internal error', code: 'INTERNAL' };
}

export function httpProblem(code: string, detail: string): Problem {
  return { type: `urn:snakepit:error:${code}`, title: code, status: STATUS_BY_CODE[code] ?? 500, detail, code };
}

export function sendProblem(res: ServerResponse, problem: Problem): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (typeof problem.retryAfterMs === 'number') headers['retry-after'] = String(Math.max(1, Math.ceil(problem.retryAfterMs / 1000)));
  else if (problem.status === 503) headers['retry-after'] = '1';
  res.writeHead(problem.status, headers);
  res.end(JSON.stringify(problem));
}
