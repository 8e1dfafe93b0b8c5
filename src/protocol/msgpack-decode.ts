/**
 * MessagePack decoder for the wire protocol. Every read is bounds-checked and every length is checked
 * against the bytes that remain before anything is allocated for it, so a malformed payload gives a
 * ProtocolError, never a crash or an outsized allocation. Attachments and large binary values become
 * views over the received payload (see docs/data.md for when a copy is made instead).
 */

import { ProtocolError } from '../errors.js';
import {
  ATTACHMENT_MARKER,
  ATTACHMENT_MIN,
  DATETIME_MAX_MS,
  DATETIME_MIN_MS,
  DAY_MS,
  Ext,
  MAX_DECODE_DEPTH,
  NDARRAY_ATTACHED,
  bytesToBigint,
} from './data-format.js';
import { Decimal } from './decimal.js';
import { tableFromIpc } from '../data/arrow.js';
import { NDArray, ndarrayFromWire, parseWireDType, type DTypeInfo, type NumericArray } from './ndarray.js';

const TWO_32 = 4294967296;

class Malformed extends Error {}

function malformed(message: string): never {
  throw new Malformed(message);
}

interface Attachment {
  offset: number;
  length: number;
}

/** Decode one payload. Throws ProtocolError when it is not a valid message. `make` picks the decoder
 * (int64.ts's for an `int64` policy other than `auto`). */
export function decodeMsgpack(payload: Buffer, make?: (payload: Buffer) => Decoder): unknown {
  try {
    return (make !== undefined ? make(payload) : new Decoder(payload)).decodePayload();
  } catch (err) {
    if (err instanceof Malformed) throw new ProtocolError(`invalid MessagePack payload of ${payload.length} bytes: ${err.message}`);
    if (err instanceof ProtocolError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new ProtocolError(`invalid MessagePack payload of ${payload.length} bytes: ${detail}`, { cause: err });
  }
}

export class Decoder {
  protected pos = 0;
  private end: number;
  private attachments: Attachment[] = [];

  constructor(protected readonly buf: Buffer) {
    this.end = buf.length;
  }

  decodePayload(): unknown {
    const { buf } = this;
    if (buf.length > 0 && buf[0] === ATTACHMENT_MARKER) {
      if (buf.length < 9) malformed('truncated attachment header');
      const bodyLength = buf.readUInt32BE(1);
      const bodyEnd = 5 + bodyLength;
      if (bodyEnd + 4 > buf.length) malformed(`body of ${bodyLength} bytes runs past the payload`);
      const count = buf.readUInt32BE(bodyEnd);
      const tableEnd = bodyEnd + 4 + 8 * count;
      if (tableEnd > buf.length) malformed(`table of ${count} attachments runs past the payload`);
      let previousEnd = tableEnd;
      for (let i = 0; i < count; i++) {
        const offset = buf.readUInt32BE(bodyEnd + 4 + 8 * i);
        const length = buf.readUInt32BE(bodyEnd + 8 + 8 * i);
        if (offset < previousEnd || offset + length > buf.length) {
          malformed(`attachment ${i} (${length} bytes at ${offset}) overlaps or runs past the payload`);
        }
        previousEnd = offset + length;
        this.attachments.push({ offset, length });
      }
      this.pos = 5;
      this.end = bodyEnd;
    }
    const value = this.value(0);
    if (this.pos !== this.end) malformed(`${this.end - this.pos} bytes left after the message`);
    return value;
  }

  // ------------------------------------------------------------ reading

  private need(n: number): void {
    if (this.end - this.pos < n) malformed(`truncated: ${n} bytes needed at offset ${this.pos}, ${this.end - this.pos} left`);
  }

  private u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  private u16(): number {
    this.need(2);
    const n = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return n;
  }

  private u32(): number {
    this.need(4);
    const n = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return n;
  }

  protected value(depth: number): unknown {
    const b = this.u8();
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b < 0x90) return this.map(b & 0x0f, depth);
    if (b < 0xa0) return this.array(b & 0x0f, depth);
    if (b < 0xc0) return this.str(b & 0x1f);
    const buf = this.buf;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.u8());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xc7:
        return this.ext(this.u8(), depth);
      case 0xc8:
        return this.ext(this.u16(), depth);
      case 0xc9:
        return this.ext(this.u32(), depth);
      case 0xca: {
        this.need(4);
        const f = buf.readFloatBE(this.pos);
        this.pos += 4;
        return f;
      }
      case 0xcb: {
        this.need(8);
        const f = buf.readDoubleBE(this.pos);
        this.pos += 8;
        return f;
      }
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        this.need(8);
        const hi = buf.readUInt32BE(this.pos);
        const lo = buf.readUInt32BE(this.pos + 4);
        const value = hi < 0x200000 ? hi * TWO_32 + lo : buf.readBigUInt64BE(this.pos);
        this.pos += 8;
        return value;
      }
      case 0xd0: {
        this.need(1);
        return buf.readInt8(this.pos++);
      }
      case 0xd1: {
        this.need(2);
        const n = buf.readInt16BE(this.pos);
        this.pos += 2;
        return n;
      }
      case 0xd2: {
        this.need(4);
        const n = buf.readInt32BE(this.pos);
        this.pos += 4;
        return n;
      }
      case 0xd3: {
        this.need(8);
        const approx = buf.readInt32BE(this.pos) * TWO_32 + buf.readUInt32BE(this.pos + 4);
        const value = Number.isSafeInteger(approx) ? approx : buf.readBigInt64BE(this.pos);
        this.pos += 8;
        return value;
      }
      case 0xd4:
        return this.ext(1, depth);
      case 0xd5:
        return this.ext(2, depth);
      case 0xd6:
        return this.ext(4, depth);
      case 0xd7:
        return this.ext(8, depth);
      case 0xd8:
        return this.ext(16, depth);
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16(), depth);
      case 0xdd:
        return this.array(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
      default:
        return malformed(`byte 0x${b.toString(16)} at offset ${this.pos - 1} starts no value`);
    }
  }

  private str(n: number): string {
    this.need(n);
    const { buf } = this;
    const start = this.pos;
    this.pos += n;
    if (n < 16) {
      let s = '';
      for (let i = start; i < start + n; i++) {
        const c = buf[i]!;
        if (c >= 0x80) return buf.toString('utf8', start, start + n);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return buf.toString('utf8', start, start + n);
  }

  private bin(n: number): Buffer {
    this.need(n);
    const start = this.pos;
    this.pos += n;
    const view = this.buf.subarray(start, start + n);
    // Small values are copied so that they do not keep the whole received chunk alive.
    return n >= ATTACHMENT_MIN ? view : Buffer.from(view);
  }

  private enter(depth: number): number {
    if (depth >= MAX_DECODE_DEPTH) malformed(`nested more than ${MAX_DECODE_DEPTH} levels deep`);
    return depth + 1;
  }

  private array(n: number, depth: number): unknown[] {
    if (n > this.end - this.pos) malformed(`array of ${n} items announced with ${this.end - this.pos} bytes left`);
    const inner = this.enter(depth);
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.value(inner);
    return out;
  }

  private map(n: number, depth: number): unknown {
    if (2 * n > this.end - this.pos) malformed(`map of ${n} entries announced with ${this.end - this.pos} bytes left`);
    const inner = this.enter(depth);
    const start = this.pos;
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.value(inner);
      if (typeof key !== 'string') {
        // A key that is not a string: decode the whole map again as a Map.
        this.pos = start;
        return this.mapAsMap(n, inner);
      }
      const item = this.value(inner);
      if (key === '__proto__') {
        Object.defineProperty(obj, key, { value: item, enumerable: true, writable: true, configurable: true });
      } else {
        obj[key] = item;
      }
    }
    return obj;
  }

  private mapAsMap(n: number, inner: number): Map<unknown, unknown> {
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < n; i++) {
      const key = this.value(inner);
      map.set(key, this.value(inner));
    }
    return map;
  }

  // ------------------------------------------------------------ extensions

  private ext(length: number, depth: number): unknown {
    this.need(1);
    const type = this.buf.readInt8(this.pos);
    this.pos += 1;
    this.need(length);
    const start = this.pos;
    this.pos += length;
    switch (type) {
      case Ext.TIMESTAMP:
        return this.timestamp(start, length);
      case Ext.NDARRAY:
        return this.ndarray(start, length);
      case Ext.BYTES_REF: {
        if (length !== 4) malformed(`bytes reference of ${length} bytes`);
        const att = this.attachment(this.buf.readUInt32BE(start));
        return Buffer.from(this.buf.buffer, this.buf.byteOffset + att.offset, att.length);
      }
      case Ext.BIGINT:
        if (length === 0) malformed('empty big integer');
        return bytesToBigint(this.buf.subarray(start, start + length));
      case Ext.DECIMAL: {
        const text = this.buf.toString('latin1', start, start + length);
        try {
          return new Decimal(text);
        } catch {
          return malformed(`invalid decimal ${JSON.stringify(text.slice(0, 40))}`);
        }
      }
      case Ext.SET: {
        const inner = this.enter(depth);
        const saved = { pos: this.pos, end: this.end };
        this.pos = start;
        this.end = start + length;
        const items = this.value(inner);
        if (this.pos !== this.end) malformed('extra bytes in a set');
        this.pos = saved.pos;
        this.end = saved.end;
        if (!Array.isArray(items)) malformed('a set must hold an array');
        return new Set(items);
      }
      case Ext.TABLE:
        return this.table(start, length);
      case Ext.DATE: {
        if (length !== 4) malformed(`date of ${length} bytes`);
        const ms = this.buf.readInt32BE(start) * DAY_MS;
        if (ms < DATETIME_MIN_MS || ms > DATETIME_MAX_MS) malformed('date out of range');
        return new Date(ms);
      }
      default:
        return malformed(`unknown extension type ${type}`);
    }
  }

  /** An Arrow table (src/data/arrow.ts): read over the attachment, or over an aligned copy of inline bytes. */
  private table(start: number, length: number): unknown {
    if (length < 1) malformed('empty table payload');
    const { buf } = this;
    if ((buf[start]! & NDARRAY_ATTACHED) !== 0) {
      if (length !== 5) malformed('table attachment reference must be 4 bytes');
      const att = this.attachment(buf.readUInt32BE(start + 1));
      return tableFromIpc(new Uint8Array(buf.buffer, buf.byteOffset + att.offset, att.length));
    }
    const copy = Buffer.allocUnsafeSlow(length - 1);
    buf.copy(copy, 0, start + 1, start + length);
    return tableFromIpc(copy);
  }

  private attachment(index: number): Attachment {
    const att = this.attachments[index];
    if (att === undefined) malformed(`reference to attachment ${index} of ${this.attachments.length}`);
    return att;
  }

  private timestamp(start: number, length: number): Date {
    const buf = this.buf;
    let seconds: number;
    let nanos: number;
    if (length === 4) {
      seconds = buf.readUInt32BE(start);
      nanos = 0;
    } else if (length === 8) {
      const hi = buf.readUInt32BE(start);
      nanos = Math.floor(hi / 4);
      seconds = (hi & 3) * TWO_32 + buf.readUInt32BE(start + 4);
    } else if (length === 12) {
      nanos = buf.readUInt32BE(start);
      const big = buf.readBigInt64BE(start + 4);
      seconds = Number(big);
    } else {
      return malformed(`timestamp of ${length} bytes`);
    }
    if (nanos >= 1e9) malformed('timestamp nanoseconds out of range');
    const ms = seconds * 1000 + Math.floor(nanos / 1e6);
    if (!(ms >= DATETIME_MIN_MS && ms <= DATETIME_MAX_MS)) malformed('timestamp out of range');
    return new Date(ms);
  }

  private ndarray(start: number, length: number): NDArray {
    const buf = this.buf;
    const end = start + length;
    let p = start;
    const need = (n: number): void => {
      if (end - p < n) malformed('truncated array header');
    };
    need(2);
    const flags = buf[p++]!;
    const dtypeLength = buf[p++]!;
    need(dtypeLength + 1);
    const dtypeText = buf.toString('latin1', p, p + dtypeLength);
    p += dtypeLength;
    const parsed = parseWireDType(dtypeText);
    if (typeof parsed === 'string') malformed(parsed);
    const ndim = buf[p++]!;
    if (ndim > 64) malformed(`array of ${ndim} dimensions`);
    need(8 * ndim);
    const shape: number[] = [];
    let size = 1;
    for (let i = 0; i < ndim; i++) {
      const hi = buf.readUInt32BE(p);
      const lo = buf.readUInt32BE(p + 4);
      p += 8;
      if (hi >= 0x200000) malformed('array dimension too large');
      const dim = hi * TWO_32 + lo;
      shape.push(dim);
      size *= dim;
    }
    const { info, swap, itemSize, width } = parsed;
    const byteLength = size * itemSize;
    let offset: number;
    if ((flags & NDARRAY_ATTACHED) !== 0) {
      if (end - p !== 4) malformed('array attachment reference must be 4 bytes');
      const att = this.attachment(buf.readUInt32BE(p));
      if (att.length !== byteLength) malformed(`array of shape [${shape.join(', ')}] needs ${byteLength} bytes, attachment has ${att.length}`);
      offset = att.offset;
    } else {
      if (end - p !== byteLength) malformed(`array of shape [${shape.join(', ')}] needs ${byteLength} bytes, has ${end - p}`);
      offset = p;
    }
    const data = arrayOver(buf, offset, size * width, info, swap, (flags & NDARRAY_ATTACHED) !== 0);
    return ndarrayFromWire(data, shape, info, width);
  }
}

/**
 * A TypedArray over `size` elements at `offset` of `buf`: a view when `view` is allowed, the bytes are
 * aligned for the element type and in this host's byte order; otherwise an aligned copy.
 */
function arrayOver(buf: Buffer, offset: number, size: number, info: DTypeInfo, swap: boolean, view: boolean): NumericArray {
  const byteOffset = buf.byteOffset + offset;
  if (view && !swap && byteOffset % info.size === 0) {
    return new info.ctor(buf.buffer, byteOffset, size);
  }
  const copy = Buffer.allocUnsafeSlow(size * info.size);
  buf.copy(copy, 0, offset, offset + size * info.size);
  if (swap) {
    if (info.size === 2) copy.swap16();
    else if (info.size === 4) copy.swap32();
    else if (info.size === 8) copy.swap64();
  }
  return new info.ctor(copy.buffer, copy.byteOffset, size);
}
