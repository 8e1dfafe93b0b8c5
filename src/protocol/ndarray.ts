/**
 * NDArray: an n-dimensional array that crosses the wire as a NumPy array (or a torch tensor). `data`
 * holds the elements in C (row-major) order, in the TypedArray of the dtype (an array of strings for
 * `string`); `shape` lists the dimensions; `dtype` names the element type (src/protocol/dtypes.ts).
 * Arrays received from Python are views over the received frame whenever the element alignment
 * allows it (docs/data.md says exactly when a copy happens).
 */

import {
  DTYPES,
  STRING_INFO,
  dtypeInfo,
  dtypeOfTypedArray,
  stringsFromUcs4,
  stringsToUcs4,
  wireDType,
  type DType,
  type DTypeArrayMap,
  type DTypeInfo,
  type NumericArray,
  type TimeDType,
} from './dtypes.js';

export {
  DTYPES,
  LITTLE_ENDIAN,
  dtypeOfTypedArray,
  parseWireDType,
  wireDType,
  type DType,
  type DTypeArrayMap,
  type DTypeInfo,
  type NumericArray,
  type TimeDType,
  type TimeUnit,
} from './dtypes.js';

/** What one element reads as: `at()`, iteration and `toArray()`. */
export type ElementOf<D extends DType> = D extends 'bool'
  ? boolean
  : D extends 'int64' | 'uint64' | TimeDType
    ? bigint
    : D extends 'string'
      ? string
      : number;

/** A value nested as deep as an array's dimensions. */
export type Nested<T> = T | Nested<T>[];

const MAX_NDIM = 64;

function checkShape(shape: unknown, length: number): readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`NDArray shape must be an array of integers, got ${typeof shape}`);
  if (shape.length > MAX_NDIM) throw new RangeError(`NDArray shape has ${shape.length} dimensions; the most is ${MAX_NDIM}`);
  let size = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw new TypeError(`NDArray shape must hold non-negative integers, got ${String(dim)}`);
    }
    size *= dim;
  }
  if (size !== length) {
    throw new RangeError(`NDArray shape [${shape.join(', ')}] holds ${size} elements but the data has ${length}`);
  }
  return Object.freeze([...shape] as number[]);
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The number an IEEE half-precision bit pattern stands for. */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The number a bfloat16 bit pattern stands for. */
export function bfloat16ToNumber(bits: number): number {
  U32[0] = bits << 16;
  return F32[0]!;
}

export class NDArray<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeArrayMap[D];

  /**
   * @param data  the elements in C order, in the TypedArray of the dtype (Uint8Array for `bool`)
   * @param shape the dimensions; default: one dimension of `data.length`
   * @param dtype the element type; default: the one of `data` (needed only for `bool`)
   */
  constructor(data: DTypeArrayMap[D], shape?: readonly number[], dtype?: D) {
    let resolved: DTypeInfo | undefined;
    if (Array.isArray(data)) {
      if (dtype !== undefined && dtype !== 'string') throw new TypeError(`NDArray of dtype ${dtype} needs its data in a TypedArray, got Array`);
      if (!data.every((s) => typeof s === 'string')) {
        throw new TypeError('NDArray data must be a TypedArray (or an array of strings for dtype string)');
      }
      resolved = STRING_INFO;
    } else if (!ArrayBuffer.isView(data) || data instanceof DataView) {
      throw new TypeError('NDArray data must be a TypedArray (or an array of strings for dtype string)');
    } else if (dtype !== undefined) {
      resolved = dtypeInfo(dtype);
      if (resolved === undefined) {
        throw new TypeError(`NDArray dtype ${JSON.stringify(dtype)} is not supported (supported: ${[...DTYPES.keys()].join(', ')}, bfloat16, datetime64[unit], timedelta64[unit], string)`);
      }
      if (!(data instanceof resolved.ctor) || data instanceof Uint8ClampedArray || resolved === STRING_INFO) {
        throw new TypeError(`NDArray of dtype ${dtype} needs its data in a ${resolved === STRING_INFO ? 'Array of strings' : resolved.ctor.name}, got ${data.constructor.name}`);
      }
    } else {
      resolved = data.constructor === Uint8Array || data instanceof Buffer ? DTYPES.get('uint8') : dtypeOfTypedArray(data);
      if (resolved === undefined || data instanceof Uint8ClampedArray) {
        throw new TypeError(`NDArray data of type ${data.constructor.name} is not supported`);
      }
    }
    this.dtype = resolved.name as D;
    this.data = data;
    this.shape = checkShape(shape ?? [data.length], data.length);
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return this.data.length;
  }

  /** Bytes of `data` (for a string array: its size on the wire, 4 bytes per character of the widest). */
  get byteLength(): number {
    const data = this.data as NumericArray | string[];
    return Array.isArray(data) ? stringsToUcs4(data).codes.byteLength : data.byteLength;
  }

  /** The element at a flat (C-order) position, as `at()` reads it. */
  private element(i: number): ElementOf<D> {
    const raw = (this.data as ArrayLike<unknown>)[i];
    switch (this.dtype) {
      case 'bool':
        return (raw !== 0) as ElementOf<D>;
      case 'float16':
        return float16ToNumber(raw as number) as ElementOf<D>;
      case 'bfloat16':
        return bfloat16ToNumber(raw as number) as ElementOf<D>;
      default:
        return raw as ElementOf<D>;
    }
  }

  /**
   * The element at an index with one entry per dimension (negative entries count from the end):
   * a boolean for `bool`, a bigint for 64-bit integers, datetime64 and timedelta64 (counts of the
   * unit; NaT is the smallest int64), a string for `string`, a number otherwise (float16 and bfloat16
   * decoded). Throws RangeError for a wrong number of indices or one out of bounds.
   */
  at(...index: number[]): ElementOf<D> {
    const { shape } = this;
    if (index.length !== shape.length) {
      throw new RangeError(`NDArray.at needs ${shape.length} indices for shape [${shape.join(', ')}], got ${index.length}`);
    }
    let flat = 0;
    for (let d = 0; d < shape.length; d++) {
      const dim = shape[d]!;
      let i = index[d]!;
      if (!Number.isInteger(i)) throw new RangeError(`NDArray.at index ${String(i)} is not an integer`);
      if (i < 0) i += dim;
      if (i < 0 || i >= dim) throw new RangeError(`NDArray.at index ${index[d]} is out of bounds for dimension ${d} of size ${dim}`);
      flat = flat * dim + i;
    }
    return this.element(flat);
  }

  /** The elements as nested arrays following the shape (a 0-d array gives its one element). */
  toArray(): Nested<ElementOf<D>> {
    const build = (dim: number, offset: number): Nested<ElementOf<D>> => {
      if (dim === this.shape.length) return this.element(offset);
      const n = this.shape[dim]!;
      let stride = 1;
      for (let d = dim + 1; d < this.shape.length; d++) stride *= this.shape[d]!;
      const out = new Array<Nested<ElementOf<D>>>(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }

  /**
   * Iterates over the first dimension, as NumPy does: the elements of a 1-d array, sub-arrays
   * (views over the same data) of an n-d array. A 0-d array cannot be iterated (TypeError).
   */
  *[Symbol.iterator](): Iterator<D extends DType ? ElementOf<D> | NDArray<D> : never> {
    type Item = D extends DType ? ElementOf<D> | NDArray<D> : never;
    const { shape } = this;
    if (shape.length === 0) throw new TypeError('iteration over a 0-d NDArray');
    if (shape.length === 1) {
      for (let i = 0; i < shape[0]!; i++) yield this.element(i) as Item;
      return;
    }
    const inner = shape.slice(1);
    const stride = inner.reduce((a, b) => a * b, 1);
    const data = this.data as NumericArray | string[];
    for (let i = 0; i < shape[0]!; i++) {
      const part = Array.isArray(data) ? data.slice(i * stride, (i + 1) * stride) : data.subarray(i * stride, (i + 1) * stride);
      yield new NDArray(part as DTypeArrayMap[D], inner, this.dtype) as Item;
    }
  }

  /**
   * What `JSON.stringify` writes: the nested elements, with 64-bit integers as numbers when they are
   * safe integers and as decimal strings otherwise (JSON has no bigint), and non-finite floats as null.
   */
  toJSON(): unknown {
    const walk = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(walk);
      if (typeof v === 'bigint') return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString();
      return v;
    };
    return walk(this.toArray());
  }
}

/** The wire form of an array: its NumPy type string and its bytes in C order. */
export function ndarrayWire(arr: NDArray): { dtype: string; bytes: Uint8Array } {
  const data = arr.data as NumericArray | string[];
  if (Array.isArray(data)) {
    const { codes, width } = stringsToUcs4(data);
    return { dtype: wireDType(STRING_INFO, width), bytes: new Uint8Array(codes.buffer, 0, codes.byteLength) };
  }
  return { dtype: wireDType(dtypeInfo(arr.dtype)!), bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** An NDArray of received data (code points of a string array are decoded). */
export function ndarrayFromWire(data: NumericArray, shape: readonly number[], info: DTypeInfo, width: number): NDArray {
  if (info === STRING_INFO) {
    const count = shape.reduce((a, b) => a * b, 1);
    return new NDArray(stringsFromUcs4(data as Uint32Array, count, width), shape, 'string');
  }
  return new NDArray(data as DTypeArrayMap[DType], shape, info.name);
}
