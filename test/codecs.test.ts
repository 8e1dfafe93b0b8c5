import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { withPool } from './helpers.js';

describe('codec negotiation', () => {
  it('uses MessagePack when the worker has msgpack', async () => {
    await withPool({}, async (pool) => {
      assert.deepEqual(pool.stats().workerList.map((w) => w.codec), ['msgpack']);
      assert.equal(await pool.execute('echo', { value: 'x' }), 'x');
    });
  });

  it('falls back to JSON when the worker cannot import msgpack, and warns once', async () => {
    // A folder with a msgpack module that fails to import shadows the real one.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'snakepit-nomsgpack-'));
    writeFileSync(path.join(dir, 'msgpack.py'), 'raise ImportError("msgpack is not installed here")\n');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await withPool({ size: 2, env: { PYTHONPATH: dir } }, async (pool) => {
        assert.deepEqual(pool.stats().workerList.map((w) => w.codec), ['json', 'json']);
        assert.equal(await pool.execute('add', { a: 2, b: 3 }), 5);
        const bytes = await pool.execute<Buffer>('echo', { value: Buffer.from([9, 8, 7]) });
        assert.deepEqual([...bytes], [9, 8, 7], 'bytes survive the JSON codec');
        assert.deepEqual(await pool.execute('echo', { value: { nested: [1, { x: 'y' }] } }), { nested: [1, { x: 'y' }] });
      });
      await new Promise((r) => setImmediate(r));
      const fallback = warnings.filter((w) => (w as { code?: string }).code === 'SNAKEPIT_JSON_FALLBACK');
      assert.equal(fallback.length, 1, 'one warning for two workers');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('the JSON codec can be chosen explicitly; it carries NaN and big integers, and refuses functions', async () => {
    await withPool({ codec: 'json' }, async (pool) => {
      assert.deepEqual(pool.stats().workerList.map((w) => w.codec), ['json']);
      assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
      assert.ok(Number.isNaN(await pool.execute('echo', { value: Number.NaN })));
      assert.equal(await pool.execute('echo', { value: 2n ** 70n }), 2n ** 70n);
      await assert.rejects(pool.execute('echo', { value: () => 1 }), { code: 'ENCODE_ERROR' });
    });
  });
});
