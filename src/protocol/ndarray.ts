/**
 * NDArray: an n-dimensional array of numbers that crosses the wire as a NumPy array. `data` is a
 * TypedArray in C (row-major) order; `shape` lists the dimensions; `dtype` names the element type.
 * Arrays received from Python are views over the received frame whenever the element alignment
 * allows it (docs/data.md says exactly when a copy happens).
 */

export type DType =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64';

export type NumericArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** The TypedArray class that holds each dtype. */
export interface DTypeArrayMap {
  bool: Uint8Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  float32: Float32Array;
  float64: Float64Array;
}

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  new (length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

export interface DTypeInfo {
  readonly name: DType;
  /** NumPy kind and size without byte order: `b1`, `i4`, `f8`... */
  readonly code: string;
  readonly size: number;
  readonly ctor: ArrayCtor;
}

const TABLE: readonly DTypeInfo[] = [
  { name: 'bool', code: 'b1', size: 1, ctor: Uint8Array },
  { name: 'int8', code: 'i1', size: 1, ctor: Int8Array },
  { name: 'uint8', code: 'u1', size: 1, ctor: Uint8Array },
  { name: 'int16', code: 'i2', size: 2, ctor: Int16Array },
  { name: 'uint16', code: 'u2', size: 2, ctor: Uint16Array },
  { name: 'int32', code: 'i4', size: 4, ctor: Int32Array },
  { name: 'uint32', code: 'u4', size: 4, ctor: Uint32Array },
  { name: 'int64', code: 'i8', size: 8, ctor: BigInt64Array },
  { name: 'uint64', code: 'u8', size: 8, ctor: BigUint64Array },
  { name: 'float32', code: 'f4', size: 4, ctor: Float32Array },
  { name: 'float64', code: 'f8', size: 8, ctor: Float64Array },
] as const as readonly DTypeInfo[];

export const DTYPES: ReadonlyMap<DType, DTypeInfo> = new Map(TABLE.map((d) => [d.name, d]));
const BY_CODE: ReadonlyMap<string, DTypeInfo> = new Map(TABLE.map((d) => [d.code, d]));

/** The dtype a plain TypedArray is sent as (Uint8Array and Buffer are bytes, not arrays). */
export function dtypeOfTypedArray(view: ArrayBufferView): DTypeInfo | undefined {
  switch (view.constructor) {
    case Int8Array:
      return DTYPES.get('int8');
    case Uint8ClampedArray:
      return DTYPES.get('uint8');
    case Int16Array:
      return DTYPES.get('int16');
    case Uint16Array:
      return DTYPES.get('uint16');
    case Int32Array:
      return DTYPES.get('int32');
    case Uint32Array:
      return DTYPES.get('uint32');
    case BigInt64Array:
      return DTYPES.get('int64');
    case BigUint64Array:
      return DTYPES.get('uint64');
    case Float32Array:
      return DTYPES.get('float32');
    case Float64Array:
      return DTYPES.get('float64');
    default:
      return undefined;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The wire name of a dtype: NumPy's type string with this host's byte order (`<f8`, `|u1`). */
export function wireDType(info: DTypeInfo): string {
  if (info.size === 1) return `|${info.code}`;
  return `${LITTLE_ENDIAN ? '<' : '>'}${info.code}`;
}

/**
 * Parses a NumPy type string from the wire. Returns the dtype and whether its bytes must be swapped
 * to match this host, or a description of what is wrong.
 */
export function parseWireDType(text: string): { info: DTypeInfo; swap: boolean } | string {
  const order = text[0];
  const info = BY_CODE.get(text.slice(1));
  if (info === undefined || (order !== '<' && order !== '>' && order !== '|' && order !== '=')) {
    return `unsupported dtype ${JSON.stringify(text)}`;
  }
  if (info.size > 1 && order === '|') return `dtype ${JSON.stringify(text)} has no byte order`;
  const swap = info.size > 1 && ((order === '<' && !LITTLE_ENDIAN) || (order === '>' && LITTLE_ENDIAN));
  return { info, swap };
}

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
    if (!ArrayBuffer.isView(data) || data instanceof DataView) {
      throw new TypeError('NDArray data must be a TypedArray');
    }
    let resolved: DTypeInfo | undefined;
    if (dtype !== undefined) {
      resolved = DTYPES.get(dtype);
      if (resolved === undefined) {
        throw new TypeError(`NDArray dtype ${JSON.stringify(dtype)} is not supported (supported: ${[...DTYPES.keys()].join(', ')})`);
      }
      if (!(data instanceof resolved.ctor) || data instanceof Uint8ClampedArray) {
        throw new TypeError(`NDArray of dtype ${dtype} needs its data in a ${resolved.ctor.name}, got ${data.constructor.name}`);
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

  get byteLength(): number {
    return this.data.byteLength;
  }
}
