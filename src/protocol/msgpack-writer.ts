/**
 * Where the MessagePack encoder writes: a reused scratch buffer that holds one frame at a time, the
 * payload limit and its accounting (the body plus the attachments so far), the attachments themselves
 * and the frame layout that carries them. It knows bytes, not values: msgpack-ext-encode.ts and
 * msgpack-encode.ts extend it with the mapping of JavaScript values, calling these methods directly
 * on themselves.
 */

import { PayloadTooLargeError } from '../errors.js';
import { ATTACHMENT_MARKER, alignUp } from './data-format.js';
import { FrameParts, HEADER_BYTES, MAX_FRAME_PAYLOAD, type Frame } from './frames.js';
import { IpcParts } from '../data/arrow.js';

const CHUNK = 64 * 1024;
/** A scratch buffer grown past this is dropped after the frame instead of being reused. */
const KEEP_LIMIT = 1024 * 1024;
/** Room kept in front of the body: frame header, attachment marker, body length. */
const RESERVED = HEADER_BYTES + 1 + 4;
const ZEROS = Buffer.alloc(64);

/** Bytes an `ensure` may reserve past the limit before the body is known to be too large. */
const SLACK = 128;

/**
 * Thrown as soon as a frame's payload passes the limit given to `encodeFrame`, before the rest of the
 * value is encoded. `size` is how large the payload was known to be at that point (a lower bound).
 */
export class EncodeLimitError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`payload of more than ${size} bytes is over the limit of ${limit} bytes`);
  }
}

export abstract class MsgpackWriter {
  protected buf: Buffer = Buffer.allocUnsafe(CHUNK);
  protected pos = 0;
  protected start = 0;
  /** Attachments: one buffer, or several written back to back (an Arrow IPC stream's pieces). */
  private attachments: (Uint8Array | IpcParts)[] = [];
  /** Payload bytes of the attachments so far (aligned). */
  private attached = 0;
  protected limit = MAX_FRAME_PAYLOAD;

  // ------------------------------------------------------------ frame

  protected begin(limit: number): void {
    this.limit = Math.min(limit, MAX_FRAME_PAYLOAD);
    this.attached = 0;
    if (this.buf.length - this.pos < 1024) {
      this.buf = Buffer.allocUnsafe(CHUNK);
      this.pos = 0;
    }
    this.pos = (this.pos + 7) & ~7;
    this.start = this.pos;
    this.pos += RESERVED;
  }

  protected finish(): Frame {
    const { buf, start } = this;
    const bodyStart = start + RESERVED;
    const bodyLength = this.pos - bodyStart;
    const count = this.attachments.length;
    let frame: Frame;
    if (count === 0) {
      if (bodyLength > MAX_FRAME_PAYLOAD) throw new PayloadTooLargeError(bodyLength, MAX_FRAME_PAYLOAD, 'message');
      buf.writeUInt32BE(bodyLength, bodyStart - HEADER_BYTES);
      frame = buf.subarray(bodyStart - HEADER_BYTES, this.pos);
    } else {
      // payload: marker, body length, body, attachment count, table of (offset, length), padding, attachments
      const headLength = 1 + 4 + bodyLength + 4 + 8 * count;
      let offset = alignUp(headLength);
      const table: number[] = [];
      for (const att of this.attachments) {
        table.push(offset, att.byteLength);
        offset = alignUp(offset + att.byteLength);
      }
      const payloadLength = table[table.length - 2]! + table[table.length - 1]!;
      if (payloadLength > MAX_FRAME_PAYLOAD) {
        throw new PayloadTooLargeError(payloadLength, MAX_FRAME_PAYLOAD, 'message');
      }
      this.ensure(4 + 8 * count + 64);
      this.u32(count);
      for (const n of table) this.u32(n);
      const headPad = alignUp(headLength) - headLength;
      this.buf.fill(0, this.pos, this.pos + headPad);
      this.pos += headPad;
      const head = this.buf;
      head.writeUInt32BE(payloadLength, this.start);
      head[this.start + HEADER_BYTES] = ATTACHMENT_MARKER;
      head.writeUInt32BE(bodyLength, this.start + HEADER_BYTES + 1);
      const parts: Uint8Array[] = [head.subarray(this.start, this.pos)];
      for (let i = 0; i < count; i++) {
        const att = this.attachments[i]!;
        if (att instanceof IpcParts) parts.push(...att.parts);
        else parts.push(att);
        const end = table[2 * i]! + att.byteLength;
        const pad = i + 1 < count ? table[2 * i + 2]! - end : 0;
        if (pad > 0) parts.push(ZEROS.subarray(0, pad));
      }
      frame = new FrameParts(parts, HEADER_BYTES + payloadLength);
      this.attachments = [];
    }
    if (this.buf.length > KEEP_LIMIT) {
      this.buf = Buffer.allocUnsafe(CHUNK);
      this.pos = 0;
    }
    return frame;
  }

  /** After a failed encode: the frame is dropped, and so is a scratch buffer it grew past KEEP_LIMIT. */
  protected abandon(): void {
    this.attachments = [];
    this.pos = this.start;
    if (this.buf.length > KEEP_LIMIT) {
      this.buf = Buffer.allocUnsafe(CHUNK);
      this.pos = 0;
    }
  }

  // ------------------------------------------------------------ buffer

  protected ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const body = used - RESERVED + this.attached;
    if (body + n > this.limit + SLACK) throw new EncodeLimitError(body + n, this.limit);
    const cap = used + this.limit + 2 * SLACK;
    const size = Math.max(used + n, Math.min(cap, Math.max(CHUNK, 2 ** Math.ceil(Math.log2(used + n + 1)))));
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.pos);
    this.buf = next;
    this.start = 0;
    this.pos = used;
  }

  protected u8(n: number): void {
    this.buf[this.pos++] = n;
  }

  protected u16(n: number): void {
    this.buf.writeUInt16BE(n, this.pos);
    this.pos += 2;
  }

  protected u32(n: number): void {
    this.buf.writeUInt32BE(n, this.pos);
    this.pos += 4;
  }

  protected raw(bytes: Uint8Array): void {
    this.ensure(bytes.byteLength);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.byteLength;
  }

  /**
   * The marker and length of a MessagePack family whose 8-, 16- and 32-bit forms are consecutive
   * markers from `marker8` (bin 0xc4, ext 0xc7, str 0xd9). The caller ensured the room.
   */
  protected sizedHeader(marker8: number, length: number): void {
    if (length < 0x100) {
      this.u8(marker8);
      this.u8(length);
    } else if (length < 0x10000) {
      this.u8(marker8 + 1);
      this.u16(length);
    } else {
      this.u8(marker8 + 2);
      this.u32(length);
    }
  }

  protected extHeader(type: number, length: number): void {
    this.ensure(6);
    this.sizedHeader(0xc7, length);
    this.u8(type & 0xff);
  }

  // ------------------------------------------------------------ limit and attachments

  /** Each of `n` items takes at least one byte: refuse a count that cannot fit before visiting it. */
  protected count(n: number): void {
    const body = this.pos - this.start - RESERVED + this.attached;
    if (body + n > this.limit) throw new EncodeLimitError(body + n, this.limit);
  }

  /** Keep `bytes` to be written after the body, unencoded; returns its index in the frame's table. */
  protected attach(bytes: Uint8Array | IpcParts): number {
    this.attached += alignUp(bytes.byteLength);
    const body = this.pos - this.start - RESERVED + this.attached;
    if (body > this.limit) throw new EncodeLimitError(body, this.limit);
    this.attachments.push(bytes);
    return this.attachments.length - 1;
  }
}
