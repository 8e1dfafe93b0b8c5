/**
 * Message codes and shapes. The codes mirror python/snakepit_bridge/protocol.json, the single protocol
 * definition; test/protocol.test.ts checks that both agree. Messages are arrays `[code, ...fields]`.
 */

import type { TypeNode } from '../codegen/type-node.js';

export const PROTOCOL_VERSION = 1;

export const Msg = {
  CALL: 1,
  CANCEL: 2,
  CREDIT: 3,
  HOST_RESULT: 4,
  PING: 5,
  SESSION_END: 6,
  SHUTDOWN: 7,
  HELLO: 20,
  RESULT: 21,
  ERROR: 22,
  CHUNK: 23,
  END: 24,
  HOST_CALL: 25,
  PONG: 26,
  LOG: 27,
  FATAL: 28,
} as const;

export type CodecName = 'msgpack' | 'json';

/** The error object a worker sends in `error` and `fatal` messages. */
export interface WireError {
  kind: string;
  type: string | null;
  module: string | null;
  message: string;
  traceback: string;
  phase?: string;
}

export interface ToolParam {
  name: string;
  /** The annotation as Python text, or null when there is none. */
  type: string | null;
  required: boolean;
  kind: string;
  default?: unknown;
  default_repr?: string;
  /** The annotation's type tree, when the catalogue was asked for types (SNAKEPIT_CATALOGUE_TYPES=1). */
  schema?: TypeNode;
}

export interface WireTool {
  name: string;
  doc: string;
  params: ToolParam[];
  returns: string | null;
  async: boolean;
  stream: boolean;
  /** The result's (a generator's: each chunk's) type tree, when the catalogue was asked for types. */
  returns_schema?: TypeNode;
}

export interface HelloInfo {
  protocol: number;
  pid: number;
  python: string;
  implementation: string;
  codec: CodecName;
  codecs: CodecName[];
  numpy: boolean;
  adapter: string;
  concurrency: number;
  tools: WireTool[];
}

export type CallMessage = [
  typeof Msg.CALL,
  id: number,
  tool: string,
  args: Record<string, unknown>,
  timeoutMs: number | null,
  session: string | null,
  streamWindow: number,
];

// ------------------------------------------------------------------------------------------------
// Sessions, references and host calls (protocol.json "sessions").

/** `[SESSION_END, session]`: the host ended a session; the worker frees its state. */
export type SessionEndMessage = [typeof Msg.SESSION_END, session: string];

/** `[HOST_CALL, id, parent, tool, args]`: Python calls a host tool while request `parent` runs. */
export type HostCallMessage = [typeof Msg.HOST_CALL, id: number, parent: number, tool: string, args: Record<string, unknown>];

/** `[HOST_RESULT, id, ok, value]`: the host tool's value, or a `HostToolFailure` when `ok` is false. */
export type HostResultMessage = [typeof Msg.HOST_RESULT, id: number, ok: boolean, value: unknown];

/** The `value` of a failed `host_result`: Python raises `HostToolError(code, message)`. */
export interface HostToolFailure {
  code: string;
  message: string;
}

/** Keys of the map that stands for a Python object reference on the wire, in both codecs. */
export const REF_MARKER_KEYS = ['$ref', 'session', 'type'] as const;

/** A Python object reference as it travels: `{"$ref": id, "session": sessionId, "type": "module.Class"}`. */
export interface RefMarker {
  $ref: number;
  session: string;
  type: string;
}

/** Tools every worker has besides the adapter's: operations on references and allowlisted calls. */
export const BUILTIN_TOOLS = {
  PYTHON_CALL: '$python.call',
  PYTHON_CREATE: '$python.create',
  REF_CALL: '$ref.call',
  REF_GET: '$ref.get',
  REF_RELEASE: '$ref.release',
} as const;

/** Host tools the host always answers: `$host.tools` lists the host tools a call may use. */
export const HOST_BUILTIN_TOOLS = {
  LIST: '$host.tools',
} as const;
