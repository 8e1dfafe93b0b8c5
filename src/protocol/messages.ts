/**
 * Message codes and shapes. The codes mirror python/snakepit_bridge/protocol.json, the single protocol
 * definition; test/protocol.test.ts checks that both agree. Messages are arrays `[code, ...fields]`.
 */

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
}

export interface WireTool {
  name: string;
  doc: string;
  params: ToolParam[];
  returns: string | null;
  async: boolean;
  stream: boolean;
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
