/**
 * Constants of the data encoding shared with python/snakepit_bridge (the `data` section of
 * protocol.json; test/codec.test.ts checks that both agree). docs/data.md describes the format.
 */

import { Decimal } from './decimal.js';

/** MessagePack extension type codes. */
export const Ext = {
  /** The standard MessagePack timestamp: `datetime` <-> `Date`. */
  TIMESTAMP: -1,
  /** A NumPy array: dtype, shape, then the data inline or as an attachment index. */
  NDARRAY: 1,
  /** Bytes carried as an attachment: a u32 attachment index. */
  BYTES_REF: 2,
  /** An integer outside the 64-bit range: big-endian two's complement. */
  BIGINT: 3,
  /** A `decimal.Decimal`: its text in ASCII. */
  DECIMAL: 4,
  /** A `set`: a MessagePack array of its elements. */
  SET: 5,
  /** A `datetime.date`: i32 days since 1970-01-01. */
  DATE: 6,
  /** A table: a flag byte, then Arrow IPC stream bytes inline or a u32 attachment index. */
  TABLE: 7,
} as const;

/** First byte of a payload that carries attachments (0xc1 is never used by MessagePack). */
export const ATTACHMENT_MARKER = 0xc1;
/** Attachments start at offsets (from the payload start) that are multiples of this. */
export const ATTACHMENT_ALIGN = 64;
/** Binary values of at least this many bytes travel as attachments instead of inline. */
export const ATTACHMENT_MIN = 64 * 1024;
/** NDARRAY flag: the data is an attachment index rather than inline bytes. */
export const NDARRAY_ATTACHED = 1;

/** Containers a value sent from Node may nest (the Python decoders accept about 1000). */
export const MAX_ENCODE_DEPTH = 500;
/** Containers a received value may nest; deeper payloads are a protocol error. */
export const MAX_DECODE_DEPTH = 2048;

/** The range of Python's `datetime` (years 1 to 9999, UTC), in milliseconds since the epoch. */
export const DATETIME_MIN_MS = -62_135_596_800_000;
export const DATETIME_MAX_MS = 253_402_300_799_999;
export const DAY_MS = 86_400_000;

/** Rounds `n` up to the attachment alignment. */
export function alignUp(n: number): number {
  return Math.ceil(n / ATTACHMENT_ALIGN) * ATTACHMENT_ALIGN;
}

/** A short name for the type of a JavaScript value, for error messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  if (proto === null) return 'Object';
  return proto.constructor?.name || 'Object';
}

/** Minimal big-endian two's complement bytes of an integer. */
export function bigintToBytes(value: bigint): Buffer {
  const negative = value < 0n;
  let hex = (negative ? ~value : value).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (parseInt(hex[0]!, 16) >= 8) hex = `00${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  if (negative) for (let i = 0; i < bytes.length; i++) bytes[i] = ~bytes[i]! & 0xff;
  return bytes;
}

/** The integer of big-endian two's complement bytes (at least one byte). */
export function bytesToBigint(bytes: Uint8Array): bigint {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  let value = BigInt(`0x${hex}`);
  if (bytes[0]! >= 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

/** Can this value be a key of a Python dict or an element of a Python set? */
export function hashableKind(value: unknown): boolean {
  const t = typeof value;
  if (t === 'string' || t === 'number' || t === 'bigint' || t === 'boolean' || value === null || value === undefined) {
    return true;
  }
  if (t !== 'object') return false;
  return value instanceof Date || value instanceof Decimal || value instanceof Uint8Array;
}
