/**
 * The data mapping between Python and JavaScript, both ways and with both codecs, against real
 * Python workers (test/fixtures/data_tools.py).
 */

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Decimal, NDArray, type Pool } from '../src/index.js';
import { fixture, rejection, startPool } from './helpers.js';

type Description = { type: string; repr: string; [key: string]: unknown };

const PYTHON_TO_JS: Record<string, (v: unknown) => void> = {
  none: (v) => assert.equal(v, null),
  true: (v) => assert.equal(v, true),
  int: (v) => assert.equal(v, -42),
  int64_max: (v) => assert.equal(v, 2n ** 63n - 1n),
  uint64_max: (v) => assert.equal(v, 2n ** 64n - 1n),
  big: (v) => assert.equal(v, 2n ** 100n + 7n),
  neg_big: (v) => assert.equal(v, -(2n ** 90n) - 3n),
  float: (v) => assert.equal(v, 2.5),
  nan: (v) => assert.ok(Number.isNaN(v)),
  inf: (v) => assert.equal(v, Infinity),
  ninf: (v) => assert.equal(v, -Infinity),
  neg_zero: (v) => assert.ok(Object.is(v, -0)),
  str: (v) => assert.equal(v, 'héllo ✓'),
  bytes: (v) => assert.deepEqual(v, Buffer.from([0, 1, 255])),
  bytearray: (v) => assert.deepEqual(v, Buffer.from('ab')),
  memoryview: (v) => assert.deepEqual(v, Buffer.from('bcd')),
  strided_memoryview: (v) => assert.deepEqual(v, Buffer.from('ace')),
  tuple: (v) => assert.deepEqual(v, [1, 'two', null]),
  list: (v) => assert.deepEqual(v, [1, [2, [3]]]),
  set: (v) => assert.deepEqual(v, new Set([1, 2, 3])),
  frozenset: (v) => assert.deepEqual(v, new Set(['a'])),
  dict: (v) => assert.deepEqual(v, { a: 1, b: { c: [null] } }),
  int_keys: (v) => assert.deepEqual(v, new Map([[1, 'one'], [2, 'two']])),
  dollar_key: (v) => assert.deepEqual(v, { $bytes: 'not really' }),
  datetime: (v) => assert.deepEqual(v, new Date('2024-02-29T12:30:45.123Z')),
  datetime_offset: (v) => assert.deepEqual(v, new Date('2023-12-31T23:00:00Z')),
  datetime_old: (v) => assert.deepEqual(v, new Date('0001-01-01T00:00:00Z')),
  date: (v) => assert.deepEqual(v, new Date('1969-07-20T00:00:00Z')),
  decimal: (v) => assert.deepEqual(v, new Decimal('-12.340')),
  decimal_nan: (v) => assert.deepEqual(v, new Decimal('NaN')),
  np_float: (v) => assert.equal(v, 0.5),
  np_int: (v) => assert.equal(v, -9),
  np_bool: (v) => assert.equal(v, true),
};

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

class Money {
  constructor(readonly cents: number) {}
  toJSON(): unknown {
    return { cents: this.cents };
  }
}

const DTYPES = ['bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64'] as const;

function expectedValues(dtype: string, n: number): unknown[] {
  return Array.from({ length: n }, (_, i) => {
    if (dtype === 'bool') return i % 7 !== 0 ? 1 : 0;
    if (dtype === 'int64' || dtype === 'uint64') return BigInt(i);
    return dtype === 'int8' && i > 127 ? i - 256 : dtype === 'uint8' ? i % 256 : i;
  });
}

for (const codec of ['msgpack', 'json'] as const) {
  describe(`data mapping (${codec})`, () => {
    let pool: Pool;
    before(async () => {
      pool = await startPool({ adapter: fixture('data_tools.py'), codec, maxPayload: 256 * 1024 * 1024 });
    });
    after(() => pool.destroy());

    const describeValue = (value: unknown): Promise<Description> => pool.execute('describe', { value }) as Promise<Description>;

    it('maps every Python kind to its JavaScript value', async () => {
      const kinds = (await pool.execute('kinds')) as string[];
      assert.deepEqual([...kinds].sort(), Object.keys(PYTHON_TO_JS).sort(), 'the table covers every kind');
      for (const kind of kinds) {
        const value = await pool.execute('value', { kind });
        try {
          PYTHON_TO_JS[kind]!(value);
        } catch (err) {
          throw new Error(`kind ${kind}: ${(err as Error).message}`);
        }
      }
    });

    it('maps JavaScript values to their Python types', async () => {
      const cases: [unknown, string, string?][] = [
        [null, 'NoneType'],
        [[undefined, null], 'list', '[None, None]'],
        [true, 'bool'],
        [7, 'int', '7'],
        [2 ** 40, 'int', '1099511627776'],
        [-(2 ** 53) + 1, 'int', '-9007199254740991'],
        [2.5, 'float', '2.5'],
        [1e20, 'float', '1e+20'],
        [NaN, 'float', 'nan'],
        [-Infinity, 'float', '-inf'],
        [-0, 'float', '-0.0'],
        [5n, 'int', '5'],
        [2n ** 64n - 1n, 'int', '18446744073709551615'],
        [-(2n ** 63n), 'int', '-9223372036854775808'],
        [2n ** 200n, 'int', (2n ** 200n).toString()],
        [-(2n ** 130n) + 1n, 'int', (-(2n ** 130n) + 1n).toString()],
        ['snake ✓', 'str', "'snake ✓'"],
        [Buffer.from('buf'), 'bytes', "b'buf'"],
        [new Uint8Array([1, 2]), 'bytes', "b'\\x01\\x02'"],
        [new Uint8Array([1, 2, 3, 4]).subarray(1, 3), 'bytes', "b'\\x02\\x03'"],
        [new Uint8Array([65, 66]).buffer, 'bytes', "b'AB'"],
        [new DataView(new Uint8Array([67]).buffer), 'bytes', "b'C'"],
        [[1, 'a', [null]], 'list', "[1, 'a', [None]]"],
        [new Map<unknown, unknown>([[1, 'a'], ['b', 2]]), 'dict', "{1: 'a', 'b': 2}"],
        [new Set([3]), 'set', '{3}'],
        [new Date('2020-05-06T07:08:09.010Z'), 'datetime', 'datetime.datetime(2020, 5, 6, 7, 8, 9, 10000, tzinfo=datetime.timezone.utc)'],
        [new Date('0001-01-01T00:00:00Z'), 'datetime', 'datetime.datetime(1, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)'],
        [new Date('1960-01-01T00:00:00.5Z'), 'datetime', 'datetime.datetime(1960, 1, 1, 0, 0, 0, 500000, tzinfo=datetime.timezone.utc)'],
        [new Decimal('1.10'), 'Decimal', "Decimal('1.10')"],
        [new Decimal('-Infinity'), 'Decimal', "Decimal('-Infinity')"],
        [{ a: 1, skipped: undefined }, 'dict', "{'a': 1}"],
        [{ $bytes: 'x' }, 'dict', "{'$bytes': 'x'}"],
        [{ ['__proto__']: 1 }, 'dict', "{'__proto__': 1}"],
        [new Money(250), 'dict', "{'cents': 250}"],
      ];
      for (const [value, type, repr] of cases) {
        const got = await describeValue(value);
        assert.equal(got.type, type, `type of ${String(value)}`);
        if (repr !== undefined) assert.equal(got.repr, repr, `repr of ${String(value)}`);
      }
    });

    it('leaves out properties that hold undefined, so a keyword argument takes its Python default', async () => {
      const arr = (await pool.execute('array', { dtype: 'int8', shape: [2], order: undefined, step: undefined })) as NDArray;
      assert.deepEqual([...arr.data], [0, 1]);
      const err = await rejection(pool.execute('describe', { value: undefined }));
      assert.equal(err.code, 'INVALID_ARGUMENTS');
      assert.match(err.message, /missing a required argument: 'value'/);
    });

    it('round-trips nested containers', async () => {
      const value = { list: [1, { deep: [[['x']]] }], map: new Map([[1, new Set(['a'])]]), when: new Date(0), n: null };
      assert.deepEqual(await pool.execute('echo', { value }), value);
    });

    it('refuses JavaScript values without a mapping, naming their type, before sending', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const cases: [unknown, RegExp][] = [
        [Symbol('s'), /JavaScript type symbol/],
        [() => 1, /JavaScript type function/],
        [new Point(1, 2), /JavaScript type Point/],
        [/re/, /JavaScript type RegExp/],
        [new Error('e'), /JavaScript type Error/],
        [new Map([[[1], 'array key']]), /Map key of JavaScript type Array/],
        [new Set([{}]), /Set element of JavaScript type Object/],
        [new Date(Number.NaN), /invalid Date/],
        [new Date('+010000-01-01T00:00:00Z'), /years 1 to 9999/],
        [cyclic, /nested more than 500 levels/],
        [new WeakMap(), /JavaScript type WeakMap/],
      ];
      const before = pool.stats().workerList[0]!.completed;
      for (const [value, message] of cases) {
        const err = await rejection(pool.execute('describe', { value }));
        assert.equal(err.code, 'ENCODE_ERROR', String(message));
        assert.match(err.message, message);
      }
      assert.equal(pool.stats().workerList[0]!.completed, before, 'nothing was sent');
    });

    it('gives a typed error naming the Python type when a result has no mapping', async () => {
      const cases: [string, RegExp][] = [
        ['naive', /naive datetime/],
        ['object', /Python type data_tools\.Opaque/],
        ['complex', /Python type complex/],
        ['surrogate', /unpaired surrogates/],
        ['object_array', /dtype object/],
        ['bytes_array', /dtype \|S3/],
        ['complex_array', /dtype complex128/],
        ['structured_array', /dtype \[\('x', '<i4'\), \('y', '<f8'\)\]/],
      ];
      for (const [kind, message] of cases) {
        const err = await rejection(pool.execute('bad', { kind }));
        assert.equal(err.code, 'ENCODE_ERROR', kind);
        assert.match(err.message, message);
      }
      assert.equal(await pool.execute('value', { kind: 'int' }), -42, 'the worker is still serving');
    });

    it('NumPy arrays of every dtype arrive as NDArray with dtype, shape and values', async () => {
      for (const dtype of DTYPES) {
        for (const shape of [[6], [2, 3], [0], [], [1, 0, 2]]) {
          const arr = (await pool.execute('array', { dtype, shape })) as NDArray;
          assert.ok(arr instanceof NDArray, `${dtype} ${shape}`);
          assert.equal(arr.dtype, dtype);
          assert.deepEqual(arr.shape, shape);
          const n = shape.reduce((a, b) => a * b, 1);
          assert.deepEqual([...arr.data], expectedValues(dtype, n), `${dtype} [${shape}]`);
        }
      }
    });

    it('non-contiguous, Fortran-ordered and big-endian arrays arrive in C order and host byte order', async () => {
      const strided = (await pool.execute('array', { dtype: 'int32', shape: [2, 3], step: 3 })) as NDArray<'int32'>;
      assert.deepEqual([...strided.data], [0, 3, 6, 9, 12, 15]);
      const fortran = (await pool.execute('array', { dtype: 'float64', shape: [2, 3], order: 'F' })) as NDArray<'float64'>;
      assert.deepEqual([...fortran.data], [0, 1, 2, 3, 4, 5]);
      const big = (await pool.execute('array', { dtype: '>i4', shape: [3] })) as NDArray<'int32'>;
      assert.equal(big.dtype, 'int32');
      assert.deepEqual([...big.data], [0, 1, 2]);
      const bigFloat = (await pool.execute('array', { dtype: '>f8', shape: [20_000] })) as NDArray<'float64'>;
      assert.equal(bigFloat.data[19_999], 19_999);
    });

    it('TypedArrays and NDArrays arrive in Python as ndarrays', async () => {
      const cases: [unknown, string, number[]][] = [
        [new Float64Array([1.5, 2]), '<f8', [2]],
        [new Float32Array([1]), '<f4', [1]],
        [new Int8Array([-1]), '|i1', [1]],
        [new Uint8ClampedArray([255]), '|u1', [1]],
        [new Int16Array(2), '<i2', [2]],
        [new Uint16Array(2), '<u2', [2]],
        [new Int32Array(2), '<i4', [2]],
        [new Uint32Array(2), '<u4', [2]],
        [new BigInt64Array([-5n]), '<i8', [1]],
        [new BigUint64Array([5n]), '<u8', [1]],
        [new NDArray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]), '<i4', [2, 3]],
        [new NDArray(new Uint8Array([1, 0, 1]), [3], 'bool'), '|b1', [3]],
        [new NDArray(new Uint8Array([9]), [], 'uint8'), '|u1', []],
        [new NDArray(new Float64Array(0), [0, 4]), '<f8', [0, 4]],
      ];
      for (const [value, dtype, shape] of cases) {
        const got = await describeValue(value);
        assert.equal(got.type, 'ndarray', dtype);
        assert.equal(got.dtype, dtype);
        assert.deepEqual(got.shape, shape);
        assert.equal(got.writeable, true, 'arrays received are writable');
      }
      const values = await describeValue(new NDArray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]));
      assert.deepEqual(values.values, [1, 2, 3, 4, 5, 6]);
      const bools = await describeValue(new NDArray(new Uint8Array([1, 0, 1]), [3], 'bool'));
      assert.deepEqual(bools.values, [true, false, true]);
      const round = (await pool.execute('echo', { value: new NDArray(new BigInt64Array([1n, -2n]), [1, 2]) })) as NDArray;
      assert.deepEqual(round.shape, [1, 2]);
      assert.deepEqual([...round.data], [1n, -2n]);
    });

    it('large arrays are views over the received bytes on the MessagePack path', async () => {
      const arr = (await pool.execute('ones', { n: 100_000 })) as NDArray<'float64'>;
      assert.equal(arr.data.length, 100_000);
      assert.equal(arr.data[99_999], 1);
      const ab = arr.data.buffer;
      if (codec === 'msgpack') {
        assert.ok(ab.byteLength > arr.data.byteLength, 'the array shares the buffer of its frame');
        assert.equal(arr.data.byteOffset % 64, 0, 'attachments are 64-byte aligned');
      } else {
        assert.equal(ab.byteLength, arr.data.byteLength, 'JSON arrays are decoded into their own buffer');
      }
      const got = await describeValue(new Float64Array(100_000).fill(2));
      assert.equal(got.writeable, true);
      assert.equal(got.aligned, true);
      assert.equal(got.owndata, codec !== 'msgpack', 'on the MessagePack path the ndarray is a view over the frame');
    });

    it('moves tens of megabytes both ways', async () => {
      const size = 24 * 1024 * 1024;
      const big = Buffer.alloc(size, 3);
      assert.equal(await pool.execute('nbytes', { data: big }), size);
      const back = (await pool.execute('blob', { n: size, fill: 9 })) as Buffer;
      assert.equal(back.length, size);
      assert.equal(back[0], 9);
      assert.equal(back[size - 1], 9);
      const floats = new Float64Array(size / 8).fill(0.25);
      assert.equal(await pool.execute('nbytes', { data: floats }), size);
    });
  });
}

describe('maxPayload bounds bulk data both ways', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ adapter: fixture('data_tools.py'), maxPayload: 1024 * 1024 });
  });
  after(() => pool.destroy());

  it('refuses arguments over maxPayload before sending them', async () => {
    const err = await rejection(pool.execute('nbytes', { data: new Float64Array(256 * 1024) }));
    assert.equal(err.code, 'PAYLOAD_TOO_LARGE');
    assert.match(err.message, /over maxPayload \(1048576 bytes\)/);
  });

  it('a result over maxPayload becomes a typed error and the worker keeps serving', async () => {
    const err = await rejection(pool.execute('blob', { n: 2 * 1024 * 1024 }));
    assert.equal(err.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(((await pool.execute('blob', { n: 512 * 1024 })) as Buffer).length, 512 * 1024);
  });
});

describe('arrays in a worker without NumPy', () => {
  let pool: Pool;
  before(async () => {
    // A folder with a numpy module that fails to import shadows the real one.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'snakepit-nonumpy-'));
    writeFileSync(path.join(dir, 'numpy.py'), 'raise ImportError("numpy is not installed here")\n');
    pool = await startPool({ adapter: fixture('plain_tools.py'), env: { PYTHONPATH: dir } });
  });
  after(() => pool.destroy());

  it('arrive as typed memoryviews, small or large', async () => {
    const small = (await pool.execute('describe', { value: new NDArray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]) })) as Record<string, unknown>;
    assert.deepEqual(small, { type: 'memoryview', format: 'i', shape: [2, 3], values: [[1, 2, 3], [4, 5, 6]] });
    const large = (await pool.execute('describe', { value: new Float64Array(20_000).fill(0.5) })) as { format: string; shape: number[]; values: number[] };
    assert.equal(large.format, 'd');
    assert.deepEqual(large.shape, [20_000]);
    assert.equal(large.values[19_999], 0.5);
  });

  it('a memoryview sent back is bytes', async () => {
    const back = await pool.execute('echo', { value: new Uint16Array([1, 2]) });
    assert.deepEqual(back, Buffer.from([1, 0, 2, 0]));
  });
});
