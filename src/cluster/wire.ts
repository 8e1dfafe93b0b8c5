/**
 * What hosts and agents say to each other over NATS: subjects, message kinds, the MessagePack
 * encoding shared with the worker pipes (bytes and arrays travel as native binary, never base64),
 * and errors carried with their code and fields so the host rebuilds the same typed error.
 */

import * as errors from '../errors.js';
import { SnakepitError, type ErrorCode } from '../errors.js';
import { frameBytes, FrameParts, HEADER_BYTES, type Frame } from '../protocol/frames.js';
import { decodeMsgpack } from '../protocol/msgpack-decode.js';
import { MsgpackEncoder } from '../protocol/msgpack-encode.js';

/** Message kinds: the first element of every message array. */
export const K = {
  // host -> agent (request on `<agent>.call`)
  EXECUTE: 1,
  STREAM: 2,
  PYCALL: 3,
  SESSION_CLOSE: 4,
  // host -> agent (publish on `<agent>.ctl`)
  CANCEL: 10,
  CREDIT: 11,
  PROBE: 12,
  // agent -> host (replies, and publishes on the host's inbox)
  OK: 20,
  ERR: 21,
  ACK: 22,
  CHUNK: 23,
  END: 24,
  HOST_CALL: 25,
  // either way: the real message went ahead in parts (bulk.ts)
  BULK: 30,
} as const;

/** Bits of a call's flags field. */
export const FLAG_IDEMPOTENT = 1;
export const FLAG_COLLECT = 2;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Pool and agent names: letters, digits, `-` and `_` (they become NATS subject tokens and bucket names). */
export function checkName(what: string, name: unknown): string | undefined {
  if (typeof name !== 'string' || !NAME.test(name)) {
    return `${what} must be 1-64 letters, digits, "-" or "_", got ${JSON.stringify(name)}`;
  }
  return undefined;
}

export const subjects = {
  agent: (pool: string, agent: string): string => `snakepit.${pool}.${agent}`,
  presence: (pool: string): string => `snakepit.${pool}.presence`,
  hostInbox: (hostId: string): string => `_SNK.${hostId}`,
  agentsBucket: (pool: string): string => `snakepit_${pool}_agents`,
  sessionsBucket: (pool: string): string => `snakepit_${pool}_sessions`,
  sessionKey: (id: string): string => `s.${Buffer.from(id).toString('base64url') || '_'}`,
};

const encoder = new MsgpackEncoder();

/** Encode one message; the result may be several buffers (large binary values are not copied). */
export function encode(message: unknown): Frame {
  return encoder.encodeFrame(message);
}

/** The payload length of an encoded message (without the frame header). */
export function encodedLength(frame: Frame): number {
  return frame.length - HEADER_BYTES;
}

/** The payload of an encoded message in one buffer. */
export function payloadBytes(frame: Frame): Uint8Array {
  if (!(frame instanceof FrameParts)) return frame.subarray(HEADER_BYTES);
  return frameBytes(frame).subarray(HEADER_BYTES);
}

export function decode(data: Uint8Array): unknown[] {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const value = decodeMsgpack(buf);
  if (!Array.isArray(value) || typeof value[0] !== 'number') {
    throw new errors.ProtocolError('a cluster message is not a message array');
  }
  return value;
}

// ------------------------------------------------------------------------------------------------
// Errors across the network.

const FIELD_SKIP = new Set(['name', 'message', 'stack', 'cause', 'code']);

/** A typed error as a plain object: code, message, and its own fields. */
export function errorToWire(err: unknown): [string, string, Record<string, unknown>] {
  if (err instanceof SnakepitError) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(err)) {
      if (!FIELD_SKIP.has(key) && value !== undefined) fields[key] = value;
    }
    return [err.code, err.message, fields];
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return ['PROTOCOL_ERROR', `agent failed: ${message}`, {}];
}

const CLASS_BY_CODE: Partial<Record<ErrorCode, new (...args: never[]) => SnakepitError>> = {
  PYTHON_ERROR: errors.PythonError,
  TIMEOUT: errors.CallTimeoutError,
  QUEUE_TIMEOUT: errors.QueueTimeoutError,
  POOL_SATURATED: errors.PoolSaturatedError,
  POOL_CLOSED: errors.PoolClosedError,
  POOL_FAILED: errors.PoolFailedError,
  WORKER_CRASHED: errors.WorkerCrashedError,
  WORKER_START_FAILED: errors.WorkerStartError,
  TOOL_NOT_FOUND: errors.ToolNotFoundError,
  INVALID_ARGUMENTS: errors.InvalidArgumentsError,
  NOT_STREAMING: errors.NotStreamingError,
  ENCODE_ERROR: errors.EncodeError,
  PAYLOAD_TOO_LARGE: errors.PayloadTooLargeError,
  PROTOCOL_ERROR: errors.ProtocolError,
  ABORTED: errors.CallAbortedError,
  CANCELLED: errors.CancelledError,
  INVALID_OPTIONS: errors.InvalidOptionsError,
  SESSION_LOST: errors.SessionLostError,
  SESSION_CLOSED: errors.SessionClosedError,
  SESSION_BUSY: errors.SessionBusyError,
  TOO_MANY_SESSIONS: errors.TooManySessionsError,
  INVALID_REF: errors.InvalidRefError,
  TOO_MANY_REFS: errors.TooManyRefsError,
  PERMISSION_DENIED: errors.PermissionDeniedError,
  NESTED_CALL_BLOCKED: errors.NestedCallBlockedError,
  SANDBOX_UNAVAILABLE: errors.SandboxUnavailableError,
  QUOTA_EXCEEDED: errors.QuotaExceededError,
  AGENT_LOST: errors.AgentLostError,
  NO_AGENTS: errors.NoAgentsError,
  CLUSTER_UNAVAILABLE: errors.ClusterUnavailableError,
};

/** Rebuild the typed error an agent sent: same class, code, message and fields. */
export function errorFromWire(wire: unknown, extra: Record<string, unknown> = {}): SnakepitError {
  const [code, message, fields] = Array.isArray(wire) ? (wire as [unknown, unknown, unknown]) : [];
  const known = typeof code === 'string' && (errors.ERROR_CODES as readonly string[]).includes(code);
  const errorCode = (known ? code : 'PROTOCOL_ERROR') as ErrorCode;
  const text = known ? String(message) : `an agent sent an error with unknown code ${JSON.stringify(code)}: ${String(message)}`;
  const cls = CLASS_BY_CODE[errorCode] ?? SnakepitError;
  const own = fields !== null && typeof fields === 'object' ? (fields as Record<string, unknown>) : {};
  const err = Reflect.construct(SnakepitError, [errorCode, text, { retryable: own.retryable === true }], cls) as SnakepitError;
  Object.assign(err, own, extra);
  return err;
}
