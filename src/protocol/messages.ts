/**
 * The wire messages. Codes, tuple types, builders, the hello and error shapes and the worker's
 * environment are generated from python/snakepit_bridge/protocol.json (the single definition) into
 * generated.ts; this module re-exports them and adds the session-level constants. Every message the
 * host sends is made by a builder (`callMessage`, `cancelMessage`, ...): a message is an array
 * `[code, ...fields]` whose field order only the definition states. See docs/protocol.md.
 */

export {
  CODECS,
  ENV,
  ENV_DEFAULTS,
  ERROR_KINDS,
  Msg,
  PROTOCOL_VERSION,
  callMessage,
  cancelMessage,
  creditMessage,
  hostResultMessage,
  pingMessage,
  sessionEndMessage,
  shutdownMessage,
  type CallMessage,
  type CancelMessage,
  type CodecName,
  type CreditMessage,
  type ErrorKind,
  type HelloInfo,
  type HostCallMessage,
  type HostMessage,
  type HostResultMessage,
  type SessionEndMessage,
  type ToolParam,
  type WireError,
  type WireErrorFields,
  type WireTool,
  type WorkerMessage,
} from './generated.js';
import { ENV_DEFAULTS } from './generated.js';

/** The largest frame in bytes, both directions, unless the pool's `maxPayload` says otherwise. */
export const DEFAULT_MAX_PAYLOAD: number = ENV_DEFAULTS.MAX_PAYLOAD;

// ------------------------------------------------------------------------------------------------
// Sessions, references and host calls (protocol.json "sessions").

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
