/**
 * The JSON codec: the fallback when the worker's Python lacks `msgpack`, and the handshake codec.
 * It carries the same values as the MessagePack codec; what JSON cannot say natively travels as a
 * tagged object with a single `$`-key (`{"$bytes": base64}`, `{"$ndarray": [...]}`...). A user object
 * that happens to have a single `$`-key is escaped as `{"$object": [[key, value]]}`. docs/data.md
 * has the table.
 */

import { EncodeError, ProtocolError } from '../errors.js';
import {
  DATETIME_MAX_MS,
  DATETIME_MIN_MS,
  MAX_ENCODE_DEPTH,
  describeType,
  hashableKind,
} from './data-format.js';
import { decodeBase64 } from './base64.js';
import { checkWellFormed } from './unicode.js';
import { Decimal } from './decimal.js';
import { HEADER_BYTES } from './frames.js';
import { EncodeLimitError } from './msgpack-encode.js';
import type { CodecName } from './messages.js';
import { isArrowTable, tableFromIpc, tableToIpc } from '../data/arrow.js';
import { NDArray, dtypeOfTypedArray, ndarrayFromWire, ndarrayWire, parseWireDType, wireDType, type DTypeInfo } from './ndarray.js';

const TypedArray = Object.getPrototypeOf(Int8Array) as abstract new () => ArrayBufferView;

function fail(message: string): never {
  throw new EncodeError(message);
}

function base64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

function ndarrayTag(info: DTypeInfo, shape: readonly number[], data: ArrayBufferView): unknown {
  return { $ndarray: [wireDType(info), [...shape], base64(data)] };
}

function dateText(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) fail('cannot encode an invalid Date');
  if (ms < DATETIME_MIN_MS || ms > DATETIME_MAX_MS) {
    fail(`cannot encode Date ${date.toISOString()}: Python datetime holds years 1 to 9999 only`);
  }
  return date.toISOString();
}

/**
 * The work bound of one JSON encode: a lower bound of the JSON text's size is counted down from the
 * limit as the value is converted, and the conversion stops (EncodeLimitError) once it passes it, so
 * a value far over maxPayload is neither walked whole nor stringified.
 */
let budget = Infinity;
let budgetLimit = Infinity;

function spend(n: number): void {
  budget -= n;
  if (budget < 0) throw new EncodeLimitError(budgetLimit - budget, budgetLimit);
}

/** The JSON-ready form of a value (tags for what JSON lacks). Throws EncodeError. */
function toJsonValue(value: unknown, depth = 0): unknown {
  switch (typeof value) {
    case 'string':
      spend(value.length + 2);
      checkWellFormed(value);
      return value;
    case 'boolean':
      spend(4);
      return value;
    case 'number':
      spend(1);
      if (Number.isNaN(value)) return { $float: 'NaN' };
      if (!Number.isFinite(value)) return { $float: value > 0 ? 'Infinity' : '-Infinity' };
      if (Object.is(value, -0)) return { $float: '-0' };
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) return { $float: String(value) };
      return value;
    case 'undefined':
      return null;
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : { $bigint: value < 0n ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}` };
    case 'object':
      break;
    default:
      return fail(`cannot encode a value of JavaScript type ${typeof value}`);
  }
  if (value === null) return null;
  if (depth >= MAX_ENCODE_DEPTH) fail(`cannot encode a value nested more than ${MAX_ENCODE_DEPTH} levels deep (is it cyclic?)`);
  const inner = depth + 1;
  if (Array.isArray(value)) {
    spend(value.length + 1);
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = toJsonValue(value[i], inner);
    return out;
  }
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto === Object.prototype || proto === null) {
    const out = Object.create(null) as Record<string, unknown>;
    const kept = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    spend(kept.length + 1);
    for (const key of kept) {
      spend(key.length + 3);
      checkWellFormed(key);
    }
    for (const key of kept) out[key] = toJsonValue((value as Record<string, unknown>)[key], inner);
    if (kept.length === 1 && kept[0]!.startsWith('$')) return { $object: [[kept[0], out[kept[0]!]]] };
    return out;
  }
  if (ArrayBuffer.isView(value)) {
    spend(Math.ceil(value.byteLength / 3) * 4);
    if (value instanceof Uint8Array || value instanceof DataView) return { $bytes: base64(value) };
    const info = value instanceof TypedArray ? dtypeOfTypedArray(value) : undefined;
    if (info === undefined) fail(`cannot encode a value of JavaScript type ${describeType(value)}`);
    return ndarrayTag(info, [(value as unknown as { length: number }).length], value);
  }
  if (value instanceof NDArray) {
    const wire = ndarrayWire(value);
    spend(Math.ceil(wire.bytes.byteLength / 3) * 4);
    return { $ndarray: [wire.dtype, [...value.shape], base64(wire.bytes)] };
  }
  if (value instanceof Date) return { $datetime: dateText(value) };
  if (value instanceof Decimal) return { $decimal: value.value };
  if (value instanceof Map) {
    spend(4 * value.size);
    const pairs: unknown[] = [];
    for (const [k, v] of value) {
      if (!hashableKind(k)) fail(`cannot encode a Map key of JavaScript type ${describeType(k)}: Python dict keys must be hashable`);
      pairs.push([toJsonValue(k, inner), toJsonValue(v, inner)]);
    }
    return { $map: pairs };
  }
  if (value instanceof Set) {
    spend(value.size);
    const items: unknown[] = [];
    for (const item of value) {
      if (!hashableKind(item)) fail(`cannot encode a Set element of JavaScript type ${describeType(item)}: Python set elements must be hashable`);
      items.push(toJsonValue(item, inner));
    }
    return { $set: items };
  }
  if (value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)) {
    return { $bytes: Buffer.from(value).toString('base64') };
  }
  if (isArrowTable(value)) {
    const ipc = tableToIpc(value);
    spend(Math.ceil(ipc.byteLength / 3) * 4);
    return { $arrow: base64(ipc) };
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return toJsonValue(toJSON.call(value), inner);
  return fail(
    `cannot encode a value of JavaScript type ${describeType(value)}: only plain objects, arrays, Map, Set, Date, ` +
      'Buffer, TypedArrays, NDArray, Decimal and objects with toJSON() have a mapping',
  );
}

// ----------------------------------------------------------------- decoding

class Malformed extends Error {}

function malformed(message: string): never {
  throw new Malformed(message);
}

const ISO = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d))?$/;

function parseIso(text: unknown, dateOnly: boolean): Date {
  const m = typeof text === 'string' ? ISO.exec(text) : null;
  if (m === null || (m[4] === undefined) !== dateOnly) malformed(`invalid ${dateOnly ? 'date' : 'datetime'} ${JSON.stringify(text)}`);
  const date = new Date(0);
  date.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!dateOnly) {
    const ms = Math.floor(Number(`0.${m[7] ?? '0'}`) * 1000);
    date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), ms);
    const zone = m[8]!;
    if (zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      date.setTime(date.getTime() - sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000);
    }
  }
  const ms = date.getTime();
  if (!(ms >= DATETIME_MIN_MS && ms <= DATETIME_MAX_MS)) malformed(`datetime out of range: ${String(text)}`);
  return date;
}

function pairs(value: unknown, what: string): [unknown, unknown][] {
  if (!Array.isArray(value) || !value.every((p) => Array.isArray(p) && p.length === 2)) {
    malformed(`${what} must be an array of [key, value] pairs`);
  }
  return value as [unknown, unknown][];
}

function fromTag(tag: string, body: unknown): unknown {
  switch (tag) {
    case '$bytes': {
      const bytes = decodeBase64(body);
      if (bytes === undefined) malformed('$bytes must be a base64 string');
      return bytes;
    }
    case '$ndarray': {
      if (!Array.isArray(body) || body.length !== 3 || typeof body[0] !== 'string' || !Array.isArray(body[1]) || typeof body[2] !== 'string') {
        malformed('$ndarray must be [dtype, shape, base64]');
      }
      const parsed = parseWireDType(body[0]);
      if (typeof parsed === 'string') malformed(parsed);
      const shape = body[1] as unknown[];
      if (shape.length > 64 || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
        malformed('$ndarray shape must hold non-negative integers');
      }
      const size = (shape as number[]).reduce((a, b) => a * b, 1);
      const bytes = decodeBase64(body[2]);
      if (bytes === undefined) malformed('$ndarray data must be a base64 string');
      const { info, swap, itemSize, width } = parsed;
      if (bytes.length !== size * itemSize) malformed(`$ndarray of shape [${shape.join(', ')}] needs ${size * itemSize} bytes, has ${bytes.length}`);
      const copy = Buffer.allocUnsafeSlow(bytes.length);
      bytes.copy(copy);
      if (swap && info.size === 2) copy.swap16();
      else if (swap && info.size === 4) copy.swap32();
      else if (swap && info.size === 8) copy.swap64();
      return ndarrayFromWire(new info.ctor(copy.buffer, 0, size * width), shape as number[], info, width);
    }
    case '$arrow': {
      const bytes = decodeBase64(body);
      if (bytes === undefined) malformed('$arrow must be a base64 string');
      const copy = Buffer.allocUnsafeSlow(bytes.length);
      bytes.copy(copy);
      return tableFromIpc(copy);
    }
    case '$datetime':
      return parseIso(body, false);
    case '$date':
      return parseIso(body, true);
    case '$decimal':
      if (typeof body !== 'string') malformed('$decimal must be a string');
      try {
        return new Decimal(body);
      } catch {
        return malformed(`invalid decimal ${JSON.stringify(body.slice(0, 40))}`);
      }
    case '$bigint':
      if (typeof body !== 'string' || !/^-?0x[0-9a-f]+$/i.test(body)) malformed('$bigint must be a hexadecimal string');
      return body.startsWith('-') ? -BigInt(body.slice(1)) : BigInt(body);
    case '$float': {
      if (typeof body !== 'string') malformed('$float must be a string');
      const n = Number(body);
      if (Number.isNaN(n) && body !== 'NaN') malformed(`invalid $float ${JSON.stringify(body)}`);
      return n;
    }
    case '$set':
      if (!Array.isArray(body)) malformed('$set must be an array');
      return new Set(body);
    case '$map':
      return new Map(pairs(body, '$map'));
    case '$object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of pairs(body, '$object')) {
        if (typeof k !== 'string') malformed('$object keys must be strings');
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default:
      return malformed(`unknown tag ${JSON.stringify(tag)}`);
  }
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  let tag: string | undefined;
  for (const key in value) {
    if (tag !== undefined || !key.startsWith('$')) return value;
    tag = key;
  }
  return tag === undefined ? value : fromTag(tag, (value as Record<string, unknown>)[tag]);
}

export class JsonCodec {
  readonly name: CodecName = 'json';

  encode(message: unknown, limit?: number): Buffer {
    return this.encodeFrame(message, limit);
  }

  encodeFrame(message: unknown, limit = Infinity): Buffer {
    let text: string;
    const outer = [budget, budgetLimit] as const;
    budget = budgetLimit = limit;
    try {
      text = JSON.stringify(toJsonValue(message));
    } catch (err) {
      if (err instanceof EncodeError || err instanceof EncodeLimitError) throw err;
      const detail = err instanceof Error ? err.message : String(err);
      throw new EncodeError(`cannot encode the value as JSON: ${detail}`, { cause: err });
    } finally {
      [budget, budgetLimit] = outer;
    }
    const length = Buffer.byteLength(text);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
    frame.writeUInt32BE(length, 0);
    const written = frame.write(text, HEADER_BYTES, length, 'utf8');
    if (written !== length) throw new EncodeError(`a JSON text of ${length} bytes was written as ${written}; refusing to send it altered`);
    return frame;
  }

  decode(payload: Buffer): unknown {
    try {
      return JSON.parse(payload.toString('utf8'), reviver);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new ProtocolError(`invalid JSON payload of ${payload.length} bytes: ${detail}`, { cause: err });
    }
  }
}
