/**
 * Element types of NDArray and their wire names (NumPy type strings: `<f8`, `|b1`, `<M8[ns]`, `<U5`,
 * plus `<bf16` for bfloat16, which NumPy lacks). Fixed-size numeric dtypes are listed in DTYPES (the
 * `dtypes` of protocol.json); datetime64/timedelta64 (one per unit) and fixed-width strings are made
 * from their wire names. docs/data.md has the table.
 */

export type TimeUnit = 'Y' | 'M' | 'W' | 'D' | 'h' | 'm' | 's' | 'ms' | 'us' | 'ns' | 'ps' | 'fs' | 'as';
export type TimeDType = `datetime64[${TimeUnit}]` | `timedelta64[${TimeUnit}]`;

export type NumericDType =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64';

export type DType = NumericDType | 'bfloat16' | TimeDType | 'string';

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

/** The container of each dtype's elements: a TypedArray, or an array of strings for `string`. */
export type DTypeArrayMap = {
  bool: Uint8Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  /** IEEE half precision, as its 16-bit patterns (Node 20 has no Float16Array). */
  float16: Uint16Array;
  /** bfloat16, as its 16-bit patterns (the upper half of a float32). */
  bfloat16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  string: string[];
} & Record<TimeDType, BigInt64Array>;

export type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  new (length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

export interface DTypeInfo {
  readonly name: DType;
  /** Wire name without byte order: `b1`, `i4`, `f8`, `M8[ns]`, `bf16`; `U` for strings. */
  readonly code: string;
  /** Bytes per element (per character for strings). */
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
  { name: 'float16', code: 'f2', size: 2, ctor: Uint16Array },
  { name: 'float32', code: 'f4', size: 4, ctor: Float32Array },
  { name: 'float64', code: 'f8', size: 8, ctor: Float64Array },
] as const as readonly DTypeInfo[];

/** The fixed-size numeric dtypes (the `dtypes` list of protocol.json), by name. */
export const DTYPES: ReadonlyMap<DType, DTypeInfo> = new Map(TABLE.map((d) => [d.name, d]));
const BY_CODE = new Map<string, DTypeInfo>(TABLE.map((d) => [d.code, d]));
BY_CODE.set('bf16', { name: 'bfloat16', code: 'bf16', size: 2, ctor: Uint16Array });
const UNITS: ReadonlySet<string> = new Set(['Y', 'M', 'W', 'D', 'h', 'm', 's', 'ms', 'us', 'ns', 'ps', 'fs', 'as']);
for (const unit of UNITS) {
  BY_CODE.set(`M8[${unit}]`, { name: `datetime64[${unit}]` as TimeDType, code: `M8[${unit}]`, size: 8, ctor: BigInt64Array });
  BY_CODE.set(`m8[${unit}]`, { name: `timedelta64[${unit}]` as TimeDType, code: `m8[${unit}]`, size: 8, ctor: BigInt64Array });
}
export const STRING_INFO: DTypeInfo = { name: 'string', code: 'U', size: 4, ctor: Uint32Array };
const BY_NAME = new Map<string, DTypeInfo>([...BY_CODE.values()].map((d) => [d.name, d]));
BY_NAME.set('string', STRING_INFO);
/** Longest string of a string array, in characters (as the Python side). */
const MAX_STRING_WIDTH = 1 << 24;

/** Every dtype an NDArray may have, by name (`datetime64[ns]` included). */
export function dtypeInfo(name: string): DTypeInfo | undefined {
  return BY_NAME.get(name);
}

export function isTimeDType(name: string): name is TimeDType {
  return name.startsWith('datetime64[') || name.startsWith('timedelta64[');
}

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

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The wire name of a dtype: NumPy's type string with this host's byte order (`<f8`, `|u1`). */
export function wireDType(info: DTypeInfo, width = 1): string {
  if (info.size === 1) return `|${info.code}`;
  const code = info === STRING_INFO ? `U${width}` : info.code;
  return `${LITTLE_ENDIAN ? '<' : '>'}${code}`;
}

export interface WireDType {
  info: DTypeInfo;
  /** Must the bytes be swapped to this host's order? */
  swap: boolean;
  /** Bytes per element (`size`, or 4 × the width of a string dtype). */
  itemSize: number;
  /** Characters per element of a string dtype; 1 otherwise. */
  width: number;
}

/**
 * Parses a NumPy type string from the wire. Returns the dtype and whether its bytes must be swapped
 * to match this host, or a description of what is wrong.
 */
export function parseWireDType(text: string): WireDType | string {
  const order = text[0];
  const code = text.slice(1);
  let info = BY_CODE.get(code);
  let width = 1;
  if (info === undefined && /^U[1-9]\d{0,7}$/.test(code) && Number(code.slice(1)) <= MAX_STRING_WIDTH) {
    info = STRING_INFO;
    width = Number(code.slice(1));
  }
  if (info === undefined || (order !== '<' && order !== '>' && order !== '|' && order !== '=')) {
    return `unsupported dtype ${JSON.stringify(text)}`;
  }
  if (info.size > 1 && order === '|') return `dtype ${JSON.stringify(text)} has no byte order`;
  const swap = info.size > 1 && ((order === '<' && !LITTLE_ENDIAN) || (order === '>' && LITTLE_ENDIAN));
  return { info, swap, itemSize: info.size * width, width };
}

/** Strings of a UCS-4 array (`width` code points each, NUL-padded). */
export function stringsFromUcs4(codes: Uint32Array, count: number, width: number): string[] {
  const out = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    let end = (i + 1) * width;
    const start = i * width;
    while (end > start && codes[end - 1] === 0) end--;
    let s = '';
    for (let k = start; k < end; k += 4096) s += String.fromCodePoint(...codes.subarray(k, Math.min(end, k + 4096)));
    out[i] = s;
  }
  return out;
}

/** Strings as a UCS-4 array of the widest one's width (at least 1). */
export function stringsToUcs4(strings: readonly string[]): { codes: Uint32Array; width: number } {
  const points = strings.map((s) => Array.from(s, (c) => c.codePointAt(0)!));
  let width = 1;
  for (const p of points) if (p.length > width) width = p.length;
  const codes = new Uint32Array(strings.length * width);
  points.forEach((p, i) => codes.set(p, i * width));
  return { codes, width };
}
