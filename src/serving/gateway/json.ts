/**
 * Values to and from JSON for HTTP clients, following the JSON codec's conventions (docs/data.md):
 * bytes as `{"$bytes": base64}`, NDArray as `{"$ndarray": {dtype, shape, data: [...]}}`, integers past
 * 2^53 as decimal strings, Decimal as a string, dates as ISO text, Maps as objects.
 */

import { InvalidArgumentsError } from '../../errors.js';
import { decodeBase64 } from '../../protocol/base64.js';
import { Decimal } from '../../protocol/decimal.js';
import { NDArray } from '../../protocol/ndarray.js';

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (value instanceof NDArray) {
    const data = value.data as ArrayLike<number | bigint>;
    return { $ndarray: { dtype: value.dtype, shape: value.shape, data: Array.from(data, (x) => (typeof x === 'bigint' ? replacer.call(null, '', x) : x)) } };
  }
  if (value instanceof Decimal) return value.value;
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  return value;
}

/** JSON text of a result; never throws on BigInt, bytes or arrays. */
export function toJson(value: unknown): string {
  // Buffers and NDArrays define toJSON, which runs before the replacer sees them: unwrap them first.
  return JSON.stringify(value === undefined ? null : value, function (this: unknown, key, v: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    return replacer.call(this, key, raw instanceof Uint8Array || raw instanceof NDArray ? raw : v);
  });
}

/**
 * Arguments from JSON: `{"$bytes": base64}` becomes bytes again. Throws SyntaxError for text that is
 * not JSON, and INVALID_ARGUMENTS for a `$bytes` whose value is not base64 text (never fewer bytes).
 */
export function fromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === '$bytes') {
        const bytes = decodeBase64(o.$bytes);
        if (bytes === undefined) throw new InvalidArgumentsError(notBase64(o.$bytes));
        return new Uint8Array(bytes);
      }
    }
    return v;
  });
}

function notBase64(value: unknown): string {
  return typeof value === 'string'
    ? `{"$bytes": ...} holds a string of ${value.length} characters that is not base64`
    : `{"$bytes": ...} must hold base64 text, got ${value === null ? 'null' : typeof value}`;
}
