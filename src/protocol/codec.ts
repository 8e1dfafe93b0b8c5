/**
 * Codecs behind one interface. MessagePack (msgpackr) is preferred; JSON is the fallback when the
 * worker's Python lacks `msgpack`. Bytes are native binary in MessagePack and `{"$bytes": base64}` in
 * JSON. Both produce whole frames (header included) so a send is a single buffer write.
 */

import { Packr, RESERVE_START_SPACE, type Options as PackrOptions } from 'msgpackr';
import { EncodeError, ProtocolError } from '../errors.js';
import { HEADER_BYTES } from './frames.js';
import type { CodecName } from './messages.js';

export interface Codec {
  readonly name: CodecName;
  /** Encode a message as a complete frame (length header + payload). Throws EncodeError. */
  encodeFrame(message: unknown): Buffer;
  /** Decode one frame's payload. Throws ProtocolError. */
  decode(payload: Buffer): unknown;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const ctor = (value as { constructor?: { name?: string } }).constructor;
  return ctor?.name ?? 'Object';
}

/**
 * Names the first part of a value that has no encoding (functions and symbols, which msgpackr would
 * turn into null or reject with a vague message). Visits at most `budget` nodes, so large arrays cost
 * little; binary data is never walked.
 */
function findUnencodable(value: unknown, budget = { left: 4096 }, depth = 0): string | undefined {
  if (--budget.left < 0 || depth > 64) return undefined;
  const t = typeof value;
  if (t === 'function' || t === 'symbol') return t;
  if (t !== 'object' || value === null || ArrayBuffer.isView(value) || value instanceof Date) return undefined;
  const items = Array.isArray(value) ? value : Object.values(value as object);
  for (const item of items) {
    const found = findUnencodable(item, budget, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

function encodeFailure(message: unknown, cause: unknown): EncodeError {
  const culprit = findUnencodable(message);
  const what = culprit !== undefined ? `a value of JavaScript type ${culprit}` : 'the value';
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new EncodeError(`cannot encode ${what}${detail}`, { cause });
}

export class MsgpackCodec implements Codec {
  readonly name = 'msgpack' as const;
  private readonly packr: Packr;

  constructor() {
    const options: PackrOptions = {
      useRecords: false,
      encodeUndefinedAsNil: true,
      mapsAsObjects: true,
      // 'auto' (numbers when safe, BigInt otherwise) exists at runtime but not in msgpackr's typings.
      int64AsType: 'auto' as PackrOptions['int64AsType'],
    };
    this.packr = new Packr(options);
  }

  encodeFrame(message: unknown): Buffer {
    if (findUnencodable(message) !== undefined) throw encodeFailure(message, undefined);
    let frame: Buffer;
    try {
      frame = this.packr.pack(message, RESERVE_START_SPACE | HEADER_BYTES);
    } catch (err) {
      throw encodeFailure(message, err);
    }
    frame.writeUInt32BE(frame.length - HEADER_BYTES, 0);
    return frame;
  }

  decode(payload: Buffer): unknown {
    try {
      return this.packr.unpack(payload);
    } catch (err) {
      throw new ProtocolError(`cannot decode a MessagePack frame of ${payload.length} bytes`, { cause: err });
    }
  }
}

function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) {
    return { $bytes: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new TypeError(`${value} has no JSON encoding`);
  }
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`a value of JavaScript type ${typeof value} has no encoding`);
  }
  return value;
}

function jsonReviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === '$bytes') {
      const b64 = (value as { $bytes: unknown }).$bytes;
      if (typeof b64 === 'string') return Buffer.from(b64, 'base64');
    }
  }
  return value;
}

export class JsonCodec implements Codec {
  readonly name = 'json' as const;

  encodeFrame(message: unknown): Buffer {
    let text: string;
    try {
      text = JSON.stringify(message, jsonReplacer);
    } catch (err) {
      throw encodeFailure(message, err);
    }
    const length = Buffer.byteLength(text);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
    frame.writeUInt32BE(length, 0);
    frame.write(text, HEADER_BYTES, 'utf8');
    return frame;
  }

  decode(payload: Buffer): unknown {
    try {
      return JSON.parse(payload.toString('utf8'), jsonReviver);
    } catch (err) {
      throw new ProtocolError(`cannot decode a JSON frame of ${payload.length} bytes`, { cause: err });
    }
  }
}

export function makeCodec(name: CodecName): Codec {
  return name === 'msgpack' ? new MsgpackCodec() : new JsonCodec();
}

export { describeType, findUnencodable };
