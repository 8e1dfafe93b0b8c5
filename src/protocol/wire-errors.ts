/** Turns an `error` message from a worker into the matching typed error. */

import {
  CancelledError,
  EncodeError,
  InvalidArgumentsError,
  InvalidRefError,
  NotStreamingError,
  PermissionDeniedError,
  PayloadTooLargeError,
  ProtocolError,
  PythonError,
  SnakepitError,
  ToolNotFoundError,
  TooManyRefsError,
  type ErrorFields,
} from '../errors.js';
import type { WireError, WireErrorFields } from './messages.js';

export function fromWireError(
  wire: WireError,
  tool: string,
  available: () => readonly string[],
  fields: ErrorFields,
): SnakepitError {
  const message = String(wire?.message ?? '');
  switch (wire?.kind) {
    case 'python_error':
      return new PythonError(
        { type: wire.type ?? 'Exception', module: wire.module ?? '', message, traceback: wire.traceback ?? '' },
        { tool, ...fields },
      );
    case 'tool_not_found':
      return new ToolNotFoundError(tool, available(), fields);
    case 'invalid_arguments':
      return new InvalidArgumentsError(message, { tool, ...fields });
    case 'encode_error':
      return new EncodeError(message, { tool, ...fields });
    case 'not_streaming':
      return new NotStreamingError(message, { tool, ...fields });
    case 'cancelled':
      return new CancelledError(tool, fields);
    case 'payload_too_large': {
      const w = wire as WireError & Partial<WireErrorFields['payload_too_large']>;
      return new PayloadTooLargeError(w.size ?? -1, w.limit ?? -1, `result of ${tool}`, { tool, ...fields });
    }
    case 'permission_denied': {
      const w = wire as WireError & Partial<WireErrorFields['permission_denied']>;
      return new PermissionDeniedError(String(w.target ?? ''), message, { tool, ...fields });
    }
    case 'protocol_error':
      return new ProtocolError(`worker could not read the call to ${tool}: ${message}`, { tool, ...fields });
    case 'invalid_ref':
      return new InvalidRefError(message, { tool, ...fields });
    case 'too_many_refs':
      return new TooManyRefsError(message, { tool, ...fields });
    default:
      return new ProtocolError(`worker sent an error of unknown kind ${JSON.stringify(wire?.kind)}: ${message}`, {
        tool,
        ...fields,
      });
  }
}
