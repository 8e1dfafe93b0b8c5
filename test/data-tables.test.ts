/**
 * Tables (pandas, pyarrow, polars) and tensors through real workers (test/fixtures/tables.py): every
 * column kind of docs/data.md checked cell by cell, both directions, both codecs; the missing-package
 * errors with a worker whose Python lacks the package (SNAKEPIT_TEST_BLOCK) or a host without apache-arrow.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as arrow from 'apache-arrow';
import { NDArray, type Pool, useArrow } from '../src/index.js';
import { blockArrowForTesting } from '../src/data/arrow.js';
import { fixture, rejection, startPool } from './helpers.js';

// tsx loads its own instance of apache-arrow: register it, as an application with another copy would.
useArrow(arrow);

const ADAPTER = fixture('tables.py');
const ms = (text: string): number => Date.parse(text);

function cells(t: arrow.Table, name: string): unknown[] {
  const col = t.getChild(name);
  assert.ok(col, `column ${name}`);
  return [0, 1, 2].map((i) => {
    const v = col.get(i) as unknown;
    if (v instanceof arrow.Vector) return [...v];
    if (v !== null && typeof v === 'object') return String(v);
    return v;
  });
}

function checkTable(t: unknown, lib: string): void {
  assert.ok(t instanceof arrow.Table, 'a table arrives as an apache-arrow Table');
  const names = t.schema.fields.map((f) => f.name);
  assert.deepEqual(names, ['f', 'i', 's_obj', 's_arrow', 'b', 'ts_tz', 'ts', 'd', 'dur', 'cat', 'dec', 'lst', 'key']);
  const type = (name: string): string => String(t.schema.fields.find((f) => f.name === name)!.type);
  assert.deepEqual(cells(t, 'f'), [1.5, null, -2]);
  assert.deepEqual(cells(t, 'i'), [1n, null, 2n ** 62n]);
  assert.deepEqual(cells(t, 's_obj'), ['a', null, 'ç']);
  assert.deepEqual(cells(t, 's_arrow'), ['x', null, 'z']);
  assert.deepEqual(cells(t, 'b'), [true, null, false]);
  assert.match(type('ts_tz'), /Timestamp<MICROSECOND, Europe\/Paris>/);
  assert.deepEqual(cells(t, 'ts_tz'), [ms('2024-03-01T11:00:00Z'), null, ms('1999-12-31T22:59:59.123Z')]);
  assert.equal(type('ts'), 'Timestamp<MICROSECOND>');
  assert.deepEqual(cells(t, 'ts'), [ms('2024-03-01T12:00:00Z'), null, 0]);
  assert.equal(type('d'), 'Date32<DAY>');
  assert.deepEqual(cells(t, 'd'), [ms('2024-02-29T00:00:00Z'), null, ms('0001-01-01T00:00:00Z')]);
  assert.equal(type('dur'), 'Duration<MICROSECOND>');
  assert.deepEqual(cells(t, 'dur'), [1_000_000n, null, 172_800_000_000n]);
  assert.match(type('cat'), /^Dictionary</);
  assert.deepEqual(cells(t, 'cat'), ['u', null, 'v']);
  assert.match(type('dec'), /^Decimal\[\d+e\+2\]/);
  assert.deepEqual(cells(t, 'dec'), ['110', null, '-250'], 'decimals keep their digits at scale 2');
  assert.deepEqual(cells(t, 'lst'), [[1n, 2n], null, []]);
  assert.deepEqual(cells(t, 'key'), ['r0', 'r1', 'r2'], `${lib}: a named index is kept as a column`);
}

for (const codec of ['msgpack', 'json'] as const) {
  describe(`tables through a worker (${codec})`, () => {
    let pool: Pool;
    before(async () => {
      pool = await startPool({ adapter: ADAPTER, codec });
    });
    after(() => pool.destroy());

    for (const lib of ['pandas', 'pyarrow', 'polars']) {
      it(`${lib}: every column kind, values and nulls, both directions`, async () => {
        const t = await pool.execute('make', { lib });
        checkTable(t, lib);
        assert.equal(await pool.execute('check_arrow', { t, lib }), 'ok');
        if (lib === 'polars') assert.equal(await pool.execute('check_polars', { df: t }), 'ok');
        else assert.equal(await pool.execute('check_pandas', { df: t }), 'ok');
      });
    }

    it('a table built in Node arrives as a pyarrow Table with its types', async () => {
      const t = arrow.tableFromArrays({ x: new Float64Array([1, NaN]), n: new Int32Array([7, -1]), s: ['a', null] });
      const got = (await pool.execute('describe_table', { t })) as Record<string, [string, unknown[]]>;
      assert.equal(got.x![0], 'double');
      assert.ok(Number.isNaN(got.x![1][1]));
      assert.deepEqual(got.n, ['int32', [7, -1]]);
      assert.deepEqual(got.s![1], ['a', null]);
      assert.equal(await pool.execute('table_type', { t }), 'Table');
    });

    it('tables yielded by a generator arrive as stream chunks', async () => {
      const got: number[][] = [];
      for await (const t of pool.stream('stream_tables', { n: 3 })) got.push([...(t as arrow.Table).getChild('i')!].map(Number));
      assert.deepEqual(got, [[0, 1], [1, 2], [2, 3]]);
    });

    it('a Series arrives as a one-column table', async () => {
      const t = (await pool.execute('make', { lib: 'series' })) as arrow.Table;
      assert.deepEqual(t.schema.fields.map((f) => f.name), ['x']);
      assert.deepEqual([...t.getChild('x')!], [1, null, 3]);
    });
  });
}

describe('large tables', () => {
  it('travel as attachments and stay intact', async () => {
    const pool = await startPool({ adapter: ADAPTER });
    try {
      const t = (await pool.execute('make', { lib: 'big', rows: 20_000 })) as arrow.Table;
      assert.equal(t.numRows, 20_000);
      assert.equal(t.getChild('x')!.get(19_999), 19_999);
      assert.equal(t.getChild('s')!.get(12_345), '12345');
      assert.equal(await pool.execute('rows', { t }), 20_000);
    } finally {
      await pool.destroy();
    }
  });
});

describe('copies of apache-arrow', () => {
  it('a Table of a copy the library does not know is refused with a typed error, never mis-encoded', async () => {
    class Table {
      schema = {};
      batches = [];
    }
    const pool = await startPool({ adapter: ADAPTER });
    try {
      const err = await rejection(pool.execute('echo', { value: new Table() }));
      assert.equal(err.code, 'ENCODE_ERROR');
      assert.match(err.message, /useArrow/);
    } finally {
      await pool.destroy();
    }
  });

  it('useArrow checks what it is given', () => {
    assert.throws(() => useArrow({} as never), { name: 'InvalidArgumentsError', message: /needs the apache-arrow module/ });
  });
});

describe('missing packages', () => {
  it('a worker without pyarrow refuses to return a table, naming the package; it keeps serving', async () => {
    const pool = await startPool({ adapter: ADAPTER, env: { SNAKEPIT_TEST_BLOCK: 'pyarrow,polars' } });
    try {
      const err = await rejection(pool.execute('make', { lib: 'series' }));
      assert.equal(err.code, 'ENCODE_ERROR');
      assert.match(err.message, /pandas\.Series.*pip install pyarrow/);
      const t = arrow.tableFromArrays({ x: new Float64Array([1]) });
      const use = await rejection(pool.execute('rows', { t }));
      assert.equal(use.code, 'PYTHON_ERROR');
      assert.match(use.message, /ImportError.*pip install pyarrow/);
      const conv = await rejection(pool.execute('as_frame', { t }));
      assert.equal(conv.code, 'INVALID_ARGUMENTS');
      assert.match(conv.message, /pip install pyarrow/);
      assert.equal(await pool.execute('echo', { value: 1 }), 1);
    } finally {
      await pool.destroy();
    }
  });

  it('a host without apache-arrow: the worker refuses to send a table, naming the npm package', async () => {
    blockArrowForTesting(true);
    let pool: Pool | undefined;
    try {
      pool = await startPool({ adapter: ADAPTER });
      const err = await rejection(pool.execute('make', { lib: 'pyarrow' }));
      assert.equal(err.code, 'ENCODE_ERROR');
      assert.match(err.message, /npm install apache-arrow/);
      assert.equal(await pool.execute('echo', { value: 'still serving' }), 'still serving');
    } finally {
      blockArrowForTesting(false);
      await pool?.destroy();
    }
  });
});

describe('tensors', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ adapter: ADAPTER });
  });
  after(() => pool.destroy());

  it('cross as NDArrays with dtype and shape (float32, int64, bool, bfloat16, non-contiguous)', async () => {
    const f = (await pool.execute('tensor', { kind: 'float32' })) as NDArray<'float32'>;
    assert.deepEqual([f.dtype, f.shape, [...f.data]], ['float32', [2, 3], [0, 1, 2, 3, 4, 5]]);
    const i = (await pool.execute('tensor', { kind: 'int64' })) as NDArray<'int64'>;
    assert.deepEqual(i.toArray(), [[-(2n ** 62n), 0n], [1n, 2n ** 53n + 1n]]);
    const b = (await pool.execute('tensor', { kind: 'bool' })) as NDArray<'bool'>;
    assert.deepEqual([b.dtype, b.toArray()], ['bool', [true, false, true]]);
    const h = (await pool.execute('tensor', { kind: 'bfloat16' })) as NDArray<'bfloat16'>;
    assert.equal(h.dtype, 'bfloat16');
    assert.ok(h.data instanceof Uint16Array);
    assert.deepEqual(h.toArray(), [1.5, -2, 3.140625]);
    const tr = (await pool.execute('tensor', { kind: 'transposed' })) as NDArray<'float32'>;
    assert.deepEqual(tr.toArray(), [[0, 3], [1, 4], [2, 5]]);
    const sl = (await pool.execute('tensor', { kind: 'sliced' })) as NDArray<'int32'>;
    assert.deepEqual([...sl], [0, 3, 6, 9]);
    const g = (await pool.execute('tensor', { kind: 'grad' })) as NDArray<'float32'>;
    assert.deepEqual([...g], [2, 2]);
  });

  it('an NDArray arrives as a torch.Tensor for a parameter annotated so', async () => {
    const cases: [NDArray, string, number[]][] = [
      [new NDArray(new Float32Array([1, 2, 3, 4]), [2, 2]), 'torch.float32', [2, 2]],
      [new NDArray(new BigInt64Array([5n, -6n])), 'torch.int64', [2]],
      [new NDArray(new Uint8Array([1, 0]), [2], 'bool'), 'torch.bool', [2]],
      [new NDArray(new Uint16Array([0x3fc0, 0xc000]), [2], 'bfloat16'), 'torch.bfloat16', [2]],
    ];
    for (const [t, dtype, shape] of cases) {
      const info = (await pool.execute('tensor_info', { t })) as { dtype: string; shape: number[]; values: number[] };
      assert.equal(info.dtype, dtype);
      assert.deepEqual(info.shape, shape);
    }
    const bf = (await pool.execute('tensor_info', { t: cases[3]![0] })) as { values: number[] };
    assert.deepEqual(bf.values, [1.5, -2]);
  });

  it('a tensor on another device is refused, saying to move it to the CPU', async () => {
    const err = await rejection(pool.execute('tensor', { kind: 'meta' }));
    assert.equal(err.code, 'ENCODE_ERROR');
    assert.match(err.message, /device 'meta'.*tensor\.cpu\(\)/);
    assert.equal(await pool.execute('echo', { value: 2 }), 2);
  });
});
