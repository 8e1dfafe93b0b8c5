/** Results as JSON for the command line: every value the wire can carry has a JSON form. */

import { Decimal } from '../protocol/decimal.js';
import { NDArray } from '../protocol/ndarray.js';

/** A JSON-safe copy: bigints as numbers when exact, else strings; bytes as `{ $bytes: base64 }`; sets and
 * typed arrays as arrays; Maps as `{ $map: [[k, v], ...] }`; NDArrays as `{ dtype, shape, data }`. */
function jsonSafe(value: unknown, depth = 0): unknown {
  if (depth > 512) return '[too deep]';
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value === null || typeof value !== 'object') return value === undefined ? null : value;
  if (value instanceof NDArray) return { dtype: value.dtype, shape: value.shape, data: jsonSafe(Array.from(value.data as ArrayLike<unknown>), depth + 1) };
  if (value instanceof Decimal) return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (ArrayBuffer.isView(value)) return jsonSafe(Array.from(value as unknown as ArrayLike<unknown>), depth + 1);
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v, depth + 1));
  if (value instanceof Set) return [...value].map((v) => jsonSafe(v, depth + 1));
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [jsonSafe(k, depth + 1), jsonSafe(v, depth + 1)]) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = jsonSafe(v, depth + 1);
  return out;
}

export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(jsonSafe(value), null, indent);
}
