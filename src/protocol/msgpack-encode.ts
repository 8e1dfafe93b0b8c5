/**
 * MessagePack encoder for the wire protocol. It maps JavaScript values as docs/data.md describes, and
 * refuses anything else with an EncodeError naming the type. Binary values of ATTACHMENT_MIN bytes or
 * more are not copied: they become attachments, written after the message straight from the caller's
 * memory. It extends msgpack-ext-encode.ts (the extension types holding no nested value: Date, NDArray
 * and TypedArrays, Arrow tables), which extends msgpack-writer.ts (where the bytes go: the scratch
 * buffer, the limit, attachments, the frame); every method is called directly on `this`.
 */

import { EncodeError, PayloadTooLargeError } from '../errors.js';
import {
  ATTACHMENT_MIN,
  Ext,
  MAX_ENCODE_DEPTH,
  bigintToBytes,
  describeType,
  hashableKind,
} from './data-format.js';
import { Decimal } from './decimal.js';
import { MAX_FRAME_PAYLOAD, type Frame } from './frames.js';
import { isArrowTable, tableToIpcParts } from '../data/arrow.js';
import { MsgpackExtEncoder } from './msgpack-ext-encode.js';
import { EncodeLimitError } from './msgpack-writer.js';
import { NDArray, dtypeOfTypedArray, ndarrayWire, wireDType } from './ndarray.js';
import { checkWellFormed } from './unicode.js';

export { EncodeLimitError } from './msgpack-writer.js';

const TWO_32 = 4294967296;

const TypedArray = Object.getPrototypeOf(Int8Array) as abstract new () => ArrayBufferView;

function fail(message: string): never {
  throw new EncodeError(message);
}

export class MsgpackEncoder extends MsgpackExtEncoder {
  private busy = false;

  /**
   * Encode one message as a frame. Throws EncodeError, PayloadTooLargeError past 4 GiB, or
   * EncodeLimitError as soon as the payload passes `limit`: the rest of the value is never visited, and
   * no buffer much larger than `limit` is ever allocated.
   */
  encodeFrame(value: unknown, limit: number = MAX_FRAME_PAYLOAD): Frame {
    // A toJSON() that itself sends a message re-enters here: give it an encoder of its own.
    if (this.busy) return new MsgpackEncoder().encodeFrame(value, limit);
    this.busy = true;
    try {
      this.begin(limit);
      this.write(value, 0);
      return this.finish();
    } catch (err) {
      this.abandon();
      if (err instanceof EncodeLimitError && err.limit === MAX_FRAME_PAYLOAD) {
        throw new PayloadTooLargeError(err.size, MAX_FRAME_PAYLOAD, 'message');
      }
      if (err instanceof EncodeError || err instanceof PayloadTooLargeError || err instanceof EncodeLimitError) throw err;
      if (err instanceof RangeError && /call stack/i.test(err.message)) {
        throw new EncodeError(`cannot encode a value nested too deeply (more than ${MAX_ENCODE_DEPTH} levels)`, { cause: err });
      }
      const detail = err instanceof Error ? err.message : String(err);
      throw new EncodeError(`cannot encode the value: ${detail}`, { cause: err });
    } finally {
      this.busy = false;
    }
  }

  // ------------------------------------------------------------ values

  private write(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.string(value);
        return;
      case 'number':
        this.number(value);
        return;
      case 'boolean':
        this.ensure(1);
        this.u8(value ? 0xc3 : 0xc2);
        return;
      case 'undefined':
        this.ensure(1);
        this.u8(0xc0);
        return;
      case 'bigint':
        this.bigint(value);
        return;
      case 'object':
        if (value === null) {
          this.ensure(1);
          this.u8(0xc0);
          return;
        }
        if (depth >= MAX_ENCODE_DEPTH) {
          fail(`cannot encode a value nested more than ${MAX_ENCODE_DEPTH} levels deep (is it cyclic?)`);
        }
        this.object(value, depth + 1);
        return;
      default:
        fail(`cannot encode a value of JavaScript type ${typeof value}`);
    }
  }

  private number(n: number): void {
    this.ensure(9);
    if (Number.isInteger(n) && !Object.is(n, -0)) {
      if (n >= 0) {
        if (n < 0x80) this.u8(n);
        else if (n < 0x100) {
          this.u8(0xcc);
          this.u8(n);
        } else if (n < 0x10000) {
          this.u8(0xcd);
          this.u16(n);
        } else if (n < TWO_32) {
          this.u8(0xce);
          this.u32(n);
        } else if (n <= Number.MAX_SAFE_INTEGER) {
          this.u8(0xcf);
          this.u32(Math.floor(n / TWO_32));
          this.u32(n % TWO_32);
        } else this.float(n);
        return;
      }
      if (n >= -0x20) this.u8(n & 0xff);
      else if (n >= -0x80) {
        this.u8(0xd0);
        this.buf.writeInt8(n, this.pos++);
      } else if (n >= -0x8000) {
        this.u8(0xd1);
        this.buf.writeInt16BE(n, this.pos);
        this.pos += 2;
      } else if (n >= -0x80000000) {
        this.u8(0xd2);
        this.buf.writeInt32BE(n, this.pos);
        this.pos += 4;
      } else if (n >= Number.MIN_SAFE_INTEGER) {
        this.u8(0xd3);
        this.buf.writeBigInt64BE(BigInt(n), this.pos);
        this.pos += 8;
      } else this.float(n);
      return;
    }
    this.float(n);
  }

  private float(n: number): void {
    this.u8(0xcb);
    this.buf.writeDoubleBE(n, this.pos);
    this.pos += 8;
  }

  private bigint(n: bigint): void {
    if (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)) {
      this.number(Number(n));
      return;
    }
    this.ensure(9);
    if (n >= -(1n << 63n) && n < 1n << 63n) {
      this.u8(0xd3);
      this.buf.writeBigInt64BE(n, this.pos);
      this.pos += 8;
    } else if (n >= 0n && n < 1n << 64n) {
      this.u8(0xcf);
      this.buf.writeBigUInt64BE(n, this.pos);
      this.pos += 8;
    } else {
      const bytes = bigintToBytes(n);
      this.extHeader(Ext.BIGINT, bytes.length);
      this.raw(bytes);
    }
  }

  private string(s: string): void {
    const len = s.length;
    if (len < 24) {
      this.ensure(1 + 3 * len);
      const at = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[at + i] = c;
      }
      if (i === len) {
        this.u8(0xa0 | len);
        this.pos += len;
        return;
      }
    }
    checkWellFormed(s); // a lone surrogate would become U+FFFD (unicode.ts)
    let max = 3 * len;
    // Near the limit, the exact size: an upper bound must not refuse a string that fits.
    if (this.pos - this.start + max > this.limit) max = Buffer.byteLength(s, 'utf8');
    const header = max < 0x20 ? 1 : max < 0x100 ? 2 : max < 0x10000 ? 3 : 5;
    this.ensure(header + max);
    // The length is given: without it Node 20 writes nothing (returns 0) when the buffer extends more
    // than 2^31-1 bytes past the offset. UTF-8 never has fewer bytes than UTF-16 code units: a shorter
    // count means the string was not written whole, which must never pass silently.
    const n = this.buf.write(s, this.pos + header, max, 'utf8');
    if (n < len) throw new EncodeError(`a string of ${len} characters was written as ${n} bytes; refusing to send it altered`);
    // The header's size was chosen from `max` before writing: the marker follows it, not `n`.
    if (header === 1) this.u8(0xa0 | n);
    else if (header === 2) {
      this.u8(0xd9);
      this.u8(n);
    } else if (header === 3) {
      this.u8(0xda);
      this.u16(n);
    } else {
      this.u8(0xdb);
      this.u32(n);
    }
    this.pos += n;
  }

  private bytes(view: Uint8Array): void {
    const n = view.byteLength;
    if (n >= ATTACHMENT_MIN) {
      const index = this.attach(view);
      this.extHeader(Ext.BYTES_REF, 4);
      this.u32(index);
      return;
    }
    this.ensure(5 + n);
    this.sizedHeader(0xc4, n);
    this.raw(view);
  }

  private object(value: object, depth: number): void {
    if (Array.isArray(value)) {
      this.array(value, depth);
      return;
    }
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null) {
      this.plainObject(value as Record<string, unknown>, depth);
      return;
    }
    if (ArrayBuffer.isView(value)) {
      if (value instanceof Uint8Array) this.bytes(value);
      else if (value instanceof DataView) this.bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      else {
        const info = value instanceof TypedArray ? dtypeOfTypedArray(value) : undefined;
        if (info === undefined) fail(`cannot encode a value of JavaScript type ${describeType(value)}`);
        this.ndarray(wireDType(info), [(value as unknown as { length: number }).length], new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      }
      return;
    }
    if (value instanceof NDArray) {
      const wire = ndarrayWire(value);
      this.ndarray(wire.dtype, value.shape, wire.bytes);
      return;
    }
    if (value instanceof Date) {
      this.date(value);
      return;
    }
    if (value instanceof Map) {
      this.map(value, depth);
      return;
    }
    if (value instanceof Set) {
      this.set(value, depth);
      return;
    }
    if (value instanceof Decimal) {
      const text = Buffer.from(value.value, 'latin1');
      this.extHeader(Ext.DECIMAL, text.length);
      this.raw(text);
      return;
    }
    if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)) {
      this.bytes(new Uint8Array(value));
      return;
    }
    if (isArrowTable(value)) {
      this.table(tableToIpcParts(value));
      return;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      this.write(toJSON.call(value), depth);
      return;
    }
    fail(
      `cannot encode a value of JavaScript type ${describeType(value)}: only plain objects, arrays, Map, Set, Date, ` +
        'Buffer, TypedArrays, NDArray, Decimal and objects with toJSON() have a mapping',
    );
  }

  private array(items: unknown[], depth: number): void {
    const n = items.length;
    this.count(n);
    this.ensure(5);
    if (n < 0x10) this.u8(0x90 | n);
    else if (n < 0x10000) {
      this.u8(0xdc);
      this.u16(n);
    } else {
      this.u8(0xdd);
      this.u32(n);
    }
    for (let i = 0; i < n; i++) this.write(items[i], depth);
  }

  private plainObject(obj: Record<string, unknown>, depth: number): void {
    const keys = Object.keys(obj);
    const n = keys.length;
    this.ensure(5);
    // Offsets are kept relative to the frame start: `ensure` may move the frame to a larger buffer.
    const rel = this.pos - this.start;
    // Properties holding undefined are left out (as JSON does), so the count is patched afterwards.
    if (n < 0x10) this.pos += 1;
    else if (n < 0x10000) this.pos += 3;
    else this.pos += 5;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const key = keys[i]!;
      const item = obj[key];
      if (item === undefined) continue;
      this.string(key);
      this.write(item, depth);
      count++;
    }
    const at = this.start + rel;
    if (n < 0x10) this.buf[at] = 0x80 | count;
    else if (n < 0x10000) {
      this.buf[at] = 0xde;
      this.buf.writeUInt16BE(count, at + 1);
    } else {
      this.buf[at] = 0xdf;
      this.buf.writeUInt32BE(count, at + 1);
    }
  }

  private map(map: Map<unknown, unknown>, depth: number): void {
    const n = map.size;
    this.count(2 * n);
    this.ensure(5);
    if (n < 0x10) this.u8(0x80 | n);
    else if (n < 0x10000) {
      this.u8(0xde);
      this.u16(n);
    } else {
      this.u8(0xdf);
      this.u32(n);
    }
    for (const [key, item] of map) {
      if (!hashableKind(key)) fail(`cannot encode a Map key of JavaScript type ${describeType(key)}: Python dict keys must be hashable`);
      this.write(key, depth);
      this.write(item, depth);
    }
  }

  private set(set: Set<unknown>, depth: number): void {
    this.count(set.size);
    this.ensure(6);
    this.u8(0xc9);
    const lengthRel = this.pos - this.start;
    this.pos += 4;
    this.u8(Ext.SET);
    const bodyRel = this.pos - this.start;
    this.array([...set].map((item) => {
      if (!hashableKind(item)) fail(`cannot encode a Set element of JavaScript type ${describeType(item)}: Python set elements must be hashable`);
      return item;
    }), depth);
    this.buf.writeUInt32BE(this.pos - this.start - bodyRel, this.start + lengthRel);
  }
}
