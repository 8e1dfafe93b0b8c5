/**
 * The `int64` pool option: how Python integers arrive in results and stream chunks.
 *
 * - `auto` (default): a number within ±(2^53-1), a bigint beyond.
 * - `number`: always a number (beyond 2^53 the value is rounded), so a column is all numbers.
 * - `bigint`: always a bigint, so a column is all bigints.
 *
 * With MessagePack the decoder sees whether a value was sent as an integer or a float, so a Python
 * float `3.0` stays a number under `bigint`. With the JSON codec it cannot (`3.0` and `3` parse alike):
 * every integral number in a result becomes a bigint there. Only the values of results and chunks are
 * touched, never the protocol's own fields; NDArrays keep their dtype's TypedArray.
 */

import { Decoder } from './msgpack-decode.js';
import { Msg } from './messages.js';

/** The values of the int64 option (and of codegen's `--int64`). */
export const INT64_POLICIES = ['auto', 'number', 'bigint'] as const;
export type Int64Policy = (typeof INT64_POLICIES)[number];

export function isInt64Policy(value: unknown): value is Int64Policy {
  return (INT64_POLICIES as readonly unknown[]).includes(value);
}

function isIntegerByte(b: number): boolean {
  return b < 0x80 || b >= 0xe0 || (b >= 0xcc && b <= 0xd3);
}

/** A MessagePack decoder applying the policy below the value field of RESULT and CHUNK messages. */
class Int64Decoder extends Decoder {
  private topIndex = 0;
  private code: unknown;
  private active = false;

  constructor(buf: Buffer, private readonly policy: 'number' | 'bigint') {
    super(buf);
  }

  protected override value(depth: number): unknown {
    if (depth === 1) {
      // The elements of the message array: [code, id, value]. Only the value is the tool's.
      const index = this.topIndex++;
      if (index === 2 && (this.code === Msg.RESULT || this.code === Msg.CHUNK)) {
        this.active = true;
        try {
          return this.convert(depth);
        } finally {
          this.active = false;
        }
      }
      const v = super.value(depth);
      if (index === 0) this.code = v;
      return v;
    }
    return this.active ? this.convert(depth) : super.value(depth);
  }

  private convert(depth: number): unknown {
    const b = this.buf[this.pos]!;
    const v = super.value(depth);
    if (this.policy === 'bigint') return typeof v === 'number' && isIntegerByte(b) ? BigInt(v) : v;
    return typeof v === 'bigint' ? Number(v) : v;
  }
}

export function int64Decoder(policy: Int64Policy): ((payload: Buffer) => Decoder) | undefined {
  return policy === 'auto' ? undefined : (payload) => new Int64Decoder(payload, policy);
}

/** The policy applied to an already decoded value (the JSON codec's path). */
export function applyInt64(value: unknown, policy: Int64Policy, depth = 0): unknown {
  if (policy === 'auto' || depth > 2048) return value;
  if (typeof value === 'bigint') return policy === 'number' ? Number(value) : value;
  if (typeof value === 'number') return policy === 'bigint' && Number.isInteger(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = applyInt64(value[i], policy, depth + 1);
    return value;
  }
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [applyInt64(k, policy, depth + 1), applyInt64(v, policy, depth + 1)] as const);
    value.clear();
    for (const [k, v] of entries) value.set(k, v);
    return value;
  }
  if (value instanceof Set) {
    const items = [...value].map((v) => applyInt64(v, policy, depth + 1));
    value.clear();
    for (const v of items) value.add(v);
    return value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // NDArray, Date, Decimal, Buffer
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) obj[key] = applyInt64(obj[key], policy, depth + 1);
  return value;
}
