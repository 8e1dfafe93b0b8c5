/**
 * NDArray ergonomics (at, toArray, iteration, toJSON, jsonReplacer) and the dtypes added for NumPy
 * (float16, datetime64, timedelta64, strings, Fortran-ordered arrays) through a real worker.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NDArray, jsonReplacer, type Pool } from '../src/index.js';
import { fixture, rejection, startPool } from './helpers.js';

describe('NDArray ergonomics', () => {
  const m = new NDArray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]);

  it('at() reads one element by index, negative indices from the end', () => {
    assert.equal(m.at(0, 0), 1);
    assert.equal(m.at(1, 2), 6);
    assert.equal(m.at(-1, -3), 4);
    assert.throws(() => m.at(2, 0), RangeError);
    assert.throws(() => m.at(0), /needs 2 indices/);
    assert.equal(new NDArray(new Uint8Array([0, 1]), [2], 'bool').at(1), true);
    assert.equal(new NDArray(new Uint16Array([0x3c00, 0xc000]), [2], 'float16').at(1), -2);
    assert.equal(new NDArray(new Uint16Array([0x3fc0]), [1], 'bfloat16').at(0), 1.5);
  });

  it('toArray() nests by shape; iteration walks the first dimension', () => {
    assert.deepEqual(m.toArray(), [[1, 2, 3], [4, 5, 6]]);
    const rows = [...m] as NDArray<'int32'>[];
    assert.equal(rows.length, 2);
    assert.ok(rows[1] instanceof NDArray);
    assert.deepEqual(rows[1]!.toArray(), [4, 5, 6]);
    assert.equal(rows[1]!.data.buffer, (m.data as Int32Array).buffer, 'rows are views');
    assert.deepEqual([...new NDArray(new Float64Array([1, 2]))], [1, 2]);
    const scalar = new NDArray(new Float64Array([7]), []);
    assert.equal(scalar.toArray(), 7);
    assert.throws(() => [...scalar], /0-d/);
  });

  it('JSON.stringify works on arrays of 64-bit integers and on results holding bigints', () => {
    const big = new NDArray(new BigInt64Array([1n, 2n ** 60n]), [2]);
    assert.equal(JSON.stringify({ big }), '{"big":[1,"1152921504606846976"]}');
    assert.equal(JSON.stringify(new NDArray(new Float32Array([1.5, NaN]))), '[1.5,null]');
    assert.throws(() => JSON.stringify({ n: 2n ** 70n }), TypeError);
    assert.equal(JSON.stringify({ n: 2n ** 70n, s: 5n }, jsonReplacer), '{"n":"1180591620717411303424","s":5}');
  });

  it('validates string and time data', () => {
    const s = new NDArray(['a', 'bé'], [2]);
    assert.equal(s.dtype, 'string');
    assert.throws(() => new NDArray(['a', 1] as unknown as string[]), /array of strings/);
    assert.throws(() => new NDArray(new Float64Array(1) as unknown as BigInt64Array, [1], 'datetime64[ns]'), /BigInt64Array/);
    assert.equal(new NDArray(new BigInt64Array(1), [1], 'timedelta64[s]').dtype, 'timedelta64[s]');
  });
});

for (const codec of ['msgpack', 'json'] as const) {
  describe(`NumPy dtypes through a worker (${codec})`, () => {
    let pool: Pool;
    before(async () => {
      pool = await startPool({ adapter: fixture('tables.py'), codec });
    });
    after(() => pool.destroy());

    it('float16 arrives as Uint16Array bits with its dtype, and returns as float16', async () => {
      const a = (await pool.execute('numpy_array', { kind: 'float16' })) as NDArray<'float16'>;
      assert.equal(a.dtype, 'float16');
      assert.ok(a.data instanceof Uint16Array);
      assert.deepEqual(a.toArray(), [[1.5, -0], [Infinity, 65504]]);
      const back = (await pool.execute('describe_array', { a })) as { dtype: string; values: string[] };
      assert.equal(back.dtype, '<f2');
      // As NumPy prints them ('6.55e+04' or '65500.0', by version): compared as numbers.
      assert.deepEqual(back.values.map((v) => (v === 'inf' ? Infinity : Number(v))), [1.5, -0, Infinity, 65500]);
    });

    it('datetime64 and timedelta64 keep their unit; NaT is the smallest int64', async () => {
      const ns = (await pool.execute('numpy_array', { kind: 'datetime64' })) as NDArray<'datetime64[ns]'>;
      assert.equal(ns.dtype, 'datetime64[ns]');
      assert.deepEqual([...ns.data], [1709208000123456789n, -(2n ** 63n)]);
      const days = (await pool.execute('numpy_array', { kind: 'datetime64_D' })) as NDArray;
      assert.deepEqual([days.dtype, [...(days.data as BigInt64Array)]], ['datetime64[D]', [19782n, 1n]]);
      const td = (await pool.execute('numpy_array', { kind: 'timedelta64' })) as NDArray;
      assert.deepEqual([td.dtype, td.toArray()], ['timedelta64[ms]', [1500n, -2n]]);
      const back = (await pool.execute('describe_array', { a: ns })) as { dtype: string; values: string[] };
      assert.deepEqual(back, { dtype: '<M8[ns]', shape: [2], values: ['2024-02-29T12:00:00.123456789', 'NaT'] });
    });

    it('fixed-width and object string arrays arrive as string NDArrays and return as <U arrays', async () => {
      const s = (await pool.execute('numpy_array', { kind: 'str' })) as NDArray<'string'>;
      assert.deepEqual([s.dtype, s.shape, s.toArray()], ['string', [2, 2], [['a', 'ünï'], ['', '😀x']]]);
      const o = (await pool.execute('numpy_array', { kind: 'object_str' })) as NDArray<'string'>;
      assert.deepEqual(o.toArray(), ['x', 'yz']);
      const back = (await pool.execute('describe_array', { a: s })) as { dtype: string; values: string[] };
      assert.deepEqual(back, { dtype: '<U3', shape: [2, 2], values: ['a', 'ünï', '', '😀x'] });
      const err = await rejection(pool.execute('numpy_array', { kind: 'object_mixed' }));
      assert.equal(err.code, 'ENCODE_ERROR');
      assert.match(err.message, /dtype object holding int/);
    });

    it('Fortran-ordered arrays arrive in C order; booleans as bool', async () => {
      const f = (await pool.execute('numpy_array', { kind: 'fortran' })) as NDArray<'int32'>;
      assert.deepEqual(f.toArray(), [[0, 1, 2], [3, 4, 5]]);
      const b = (await pool.execute('numpy_array', { kind: 'bool' })) as NDArray<'bool'>;
      assert.deepEqual([b.dtype, b.toArray()], ['bool', [true, false]]);
    });
  });
}
