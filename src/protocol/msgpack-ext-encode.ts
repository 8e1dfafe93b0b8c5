/**
 * The extension types whose encoding holds no nested value: a Date as a MessagePack timestamp, an
 * NDArray (and a TypedArray, as a one-dimensional one) as dtype, shape and bytes, and an Arrow table
 * as IPC stream bytes; large bytes of the last two travel as attachments. docs/data.md describes the
 * layouts. The class sits between msgpack-writer.ts (the bytes) and msgpack-encode.ts (the mapping of
 * values, which calls these methods directly on itself).
 */

import { EncodeError } from '../errors.js';
import { ATTACHMENT_MIN, DATETIME_MAX_MS, DATETIME_MIN_MS, Ext, NDARRAY_ATTACHED } from './data-format.js';
import type { IpcParts } from '../data/arrow.js';
import { MsgpackWriter } from './msgpack-writer.js';

const TWO_32 = 4294967296;

function fail(message: string): never {
  throw new EncodeError(message);
}

export abstract class MsgpackExtEncoder extends MsgpackWriter {
  protected date(date: Date): void {
    const ms = date.getTime();
    if (!Number.isFinite(ms)) fail('cannot encode an invalid Date');
    if (ms < DATETIME_MIN_MS || ms > DATETIME_MAX_MS) {
      fail(`cannot encode Date ${date.toISOString()}: Python datetime holds years 1 to 9999 only`);
    }
    const seconds = Math.floor(ms / 1000);
    const nanos = (ms - seconds * 1000) * 1_000_000;
    this.ensure(15);
    if (seconds >= 0 && seconds < 2 ** 34) {
      if (nanos === 0 && seconds < TWO_32) {
        this.u8(0xd6);
        this.u8(0xff);
        this.u32(seconds);
      } else {
        // timestamp 64: 30 bits of nanoseconds, 34 bits of seconds
        this.u8(0xd7);
        this.u8(0xff);
        this.u32(nanos * 4 + Math.floor(seconds / TWO_32));
        this.u32(seconds % TWO_32);
      }
      return;
    }
    this.u8(0xc7);
    this.u8(12);
    this.u8(0xff);
    this.u32(nanos);
    this.buf.writeBigInt64BE(BigInt(seconds), this.pos);
    this.pos += 8;
  }

  /**
   * An Arrow table as IPC stream bytes (src/data/arrow.ts): when large, one attachment written from
   * the stream's pieces, which are mostly views of the table's own column buffers (no copy).
   */
  protected table(ipc: IpcParts): void {
    if (ipc.byteLength >= ATTACHMENT_MIN) {
      this.extHeader(Ext.TABLE, 5);
      this.ensure(5);
      this.u8(NDARRAY_ATTACHED);
      this.u32(this.attach(ipc));
      return;
    }
    this.extHeader(Ext.TABLE, 1 + ipc.byteLength);
    this.ensure(1);
    this.u8(0);
    for (const part of ipc.parts) this.raw(part);
  }

  protected ndarray(dtype: string, shape: readonly number[], bytes: Uint8Array): void {
    const attached = bytes.byteLength >= ATTACHMENT_MIN;
    const headerLength = 1 + 1 + dtype.length + 1 + 8 * shape.length;
    const length = headerLength + (attached ? 4 : bytes.byteLength);
    this.extHeader(Ext.NDARRAY, length);
    this.ensure(headerLength + 4);
    this.u8(attached ? NDARRAY_ATTACHED : 0);
    this.u8(dtype.length);
    this.pos += this.buf.write(dtype, this.pos, dtype.length, 'latin1');
    this.u8(shape.length);
    for (const dim of shape) {
      this.u32(Math.floor(dim / TWO_32));
      this.u32(dim % TWO_32);
    }
    if (attached) this.u32(this.attach(bytes));
    else this.raw(bytes);
  }
}
