/**
 * Codecs behind one interface. MessagePack is preferred; JSON is the fallback when the worker's Python
 * lacks `msgpack`. Both carry the same values (docs/data.md). Encoding produces a whole frame, header
 * included; the worker's outbox gathers the frames of one tick into one write (see src/worker/outbox.ts).
 */

import { frameBytes, type Frame } from './frames.js';
import { JsonCodec } from './json-codec.js';
import type { CodecName } from './messages.js';
import { decodeMsgpack } from './msgpack-decode.js';
import { MsgpackEncoder } from './msgpack-encode.js';

export interface Codec {
  readonly name: CodecName;
  /**
   * Encode a message as a complete frame (length header + payload), possibly in several parts that
   * refer to the caller's binary values without copying them. Throws EncodeError, or EncodeLimitError
   * as soon as the payload is known to pass `limit` (the rest of the message is not encoded).
   */
  encode(message: unknown, limit?: number): Frame;
  /** Encode a message as a complete frame in one buffer. Throws EncodeError. */
  encodeFrame(message: unknown): Buffer;
  /** Decode one frame's payload. Throws ProtocolError. */
  decode(payload: Buffer): unknown;
}

export class MsgpackCodec implements Codec {
  readonly name: CodecName = 'msgpack';
  private readonly encoder = new MsgpackEncoder();

  encode(message: unknown, limit?: number): Frame {
    return this.encoder.encodeFrame(message, limit);
  }

  encodeFrame(message: unknown): Buffer {
    return frameBytes(this.encoder.encodeFrame(message));
  }

  decode(payload: Buffer): unknown {
    return decodeMsgpack(payload);
  }
}

export { JsonCodec };
export { EncodeLimitError } from './msgpack-encode.js';

export function makeCodec(name: CodecName): Codec {
  return name === 'msgpack' ? new MsgpackCodec() : new JsonCodec();
}
