/**
 * Canonical cache keys: equal arguments give equal keys whatever the order of their object keys.
 * Values the cache cannot key (Maps, Sets, class instances, functions) make the call uncacheable.
 */

import { nodeCrypto } from '../boot/crypto.js';
import { Decimal } from '../protocol/decimal.js';
import { NDArray } from '../protocol/ndarray.js';

/** Keys longer than this are replaced by their SHA-256 digest, so large arguments cost little memory. */
const DIGEST_ABOVE = 256;

class Uncacheable extends Error {}

/** The key of a call, or undefined when its arguments hold a value the cache cannot key. */
export function cacheKey(args: Record<string, unknown> | undefined): string | undefined {
  let key: string;
  try {
    key = args === undefined ? '{}' : encode(args);
  } catch (err) {
    if (err instanceof Uncacheable) return undefined;
    throw err;
  }
  return key.length > DIGEST_ABOVE ? `#${nodeCrypto().createHash('sha256').update(key).digest('base64')}` : key;
}

function bytes(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

function encode(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Object.is(value, -0) ? 'd-0' : `d${value}`;
    case 'boolean':
      return value ? 't' : 'f';
    case 'bigint':
      return `i${value}`;
    case 'undefined':
      return 'n';
    case 'object':
      break;
    default:
      throw new Uncacheable();
  }
  if (value === null) return 'n';
  if (Array.isArray(value)) return `[${value.map(encode).join(',')}]`;
  if (value instanceof Uint8Array) return `b${bytes(value)}`;
  if (value instanceof NDArray) return `a${value.dtype}(${value.shape.join('x')})${bytes(value.data)}`;
  if (value instanceof Decimal) return `m${value.value}`;
  if (value instanceof Date) return `D${value.getTime()}`;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new Uncacheable();
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k])}`).join(',')}}`;
}
