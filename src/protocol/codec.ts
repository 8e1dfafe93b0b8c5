/**
 * Codecs behind one interface. MessagePack is preferred; JSON is the fallback when the worker's Python
 * lacks `msgpack`. Both carry the same values (docs/data.md). Encoding produces a whole frame, header
 * included; the worker's outbox gathers the frames of one tick into one write (see src/connection/outbox.ts).
 */

import { frameBytes, type Frame } from './frames.js';
import { JsonCodec } from './json-codec.js';
import { Msg, type CodecName } from './messages.js';
import { decodeMsgpack, type Decoder } from './msgpack-decode.js';
import { applyInt64, int64Decoder, type Int64Policy } from './int64.js';
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
  private readonly makeDecoder: ((payload: Buffer) => Decoder) | undefined;

  constructor(int64: Int64Policy = 'auto') {
    this.makeDecoder = int64Decoder(int64);
  }

  encode(message: unknown, limit?: number): Frame {
    return this.encoder.encodeFrame(message, limit);
  }

  encodeFrame(message: unknown): Buffer {
    return frameBytes(this.encoder.encodeFrame(message));
  }

  decode(payload: Buffer): unknown {
    return decodeMsgpack(payload, this.makeDecoder);
  }
}

export { JsonCodec };
export { EncodeLimitError } from './msgpack-encode.js';

/** The JSON codec with the `int64` policy applied to result and chunk values. */
class JsonInt64Codec extends JsonCodec {
  constructor(private readonly int64: Int64Policy) {
    super();
  }

  override decode(payload: Buffer): unknown {
    const msg = super.decode(payload);
    if (Array.isArray(msg) && (msg[0] === Msg.RESULT || msg[0] === Msg.CHUNK)) msg[2] = applyInt64(msg[2], this.int64);
    return msg;
  }
}

export function makeCodec(name: CodecName, int64: Int64Policy = 'auto'): Codec {
  if (name === 'msgpack') return new MsgpackCodec(int64);
  return int64 === 'auto' ? new JsonCodec() : new JsonInt64Codec(int64);
}
