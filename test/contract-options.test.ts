/** Pool options of the typed contract: types, checkArguments, int64; and interpreter resolution. */

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { NDArray, Pool, SnakepitError } from '../src/index.js';
import { resolvePython } from '../src/python-env/resolve.js';
import { fixture, PYTHON, withPool } from './helpers.js';

const TYPED = fixture('typed_tools.py');

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SnakepitError);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

describe('checkArguments', () => {
  test('a wrong type is INVALID_ARGUMENTS naming the parameter, the type and what was given', async () => {
    await withPool({ adapter: TYPED, checkArguments: true }, async (pool) => {
      await rejectsWith(pool.execute('add', { a: '3' }), 'INVALID_ARGUMENTS', /^tool add: argument a must be int, got "3" \(string\)$/);
      await rejectsWith(pool.execute('add', { a: 1.5 }), 'INVALID_ARGUMENTS', /argument a must be int, got 1\.5 \(number\)/);
      await rejectsWith(pool.execute('scale', { values: [1, 'x'], factor: 2 }), 'INVALID_ARGUMENTS', /argument values\[1\] must be float, got "x" \(string\)/);
      await rejectsWith(
        pool.execute('shapes', { pair: [1, 'a'], many: [], mapping: {}, unique: [], mode: 'medium' }),
        'INVALID_ARGUMENTS',
        /argument mode must be Literal\['fast', 'slow'\], got "medium"/,
      );
      await rejectsWith(
        pool.execute('objects', { movie: {}, point: { x: 1 }, pair: [1], user: {} }),
        'INVALID_ARGUMENTS',
        /argument point\.y must be float, got undefined/,
      );
      await rejectsWith(pool.execute('arrays', { a: new NDArray(new Float64Array(2)), b: new Float32Array(1) }), 'INVALID_ARGUMENTS', /argument a must be npt\.NDArray\[np\.float32\], got an NDArray of dtype float64/);
      // Streams are checked too, before anything is sent.
      assert.throws(() => pool.stream('count', { n: 'many' }), /argument n must be int, got "many" \(string\)/);
      // Right types pass, including bigints for int, null for `= None`, sets as arrays, enums by value.
      assert.equal(await pool.execute('add', { a: 2n, b: 3 }), 5);
      assert.deepEqual(await pool.execute('shapes', { pair: [1, 'a'], many: [1, 2], mapping: { a: 1 }, unique: ['x'], maybe: null, color: 'green' }), { pair: [1, 'a'], mode: 'fast' });
      assert.equal(await pool.execute('echo', { value: { anything: 1 } }).then((v) => (v as { anything: number }).anything), 1);
    });
  });

  test('off by default: the wrong type reaches Python', async () => {
    await withPool({ adapter: TYPED }, async (pool) => {
      await rejectsWith(pool.execute('add', { a: '3' }), 'PYTHON_ERROR', /TypeError/);
      assert.equal(pool.tools().find((t) => t.name === 'add')!.parameters[0]!.schema, undefined);
    });
  });

  test('types: true puts the type trees in tools()', async () => {
    await withPool({ adapter: TYPED, types: true }, async (pool) => {
      const add = pool.tools().find((t) => t.name === 'add')!;
      assert.deepEqual(add.parameters.map((p) => p.schema), [{ kind: 'int' }, { kind: 'int' }]);
      assert.deepEqual(add.returnsSchema, { kind: 'int' });
    });
  });
});

describe('int64', () => {
  for (const codec of ['msgpack', 'json'] as const) {
    test(`auto, number and bigint (${codec})`, async () => {
      const big = 2n ** 60n + 3n;
      const auto = await withPool({ adapter: TYPED, codec }, (pool) => pool.execute<Record<string, unknown>>('ints'));
      assert.deepEqual(auto.column, [9, big, -1]);
      const num = await withPool({ adapter: TYPED, codec, int64: 'number' }, (pool) => pool.execute<Record<string, unknown>>('ints'));
      assert.deepEqual(num.column, [9, Number(big), -1]);
      const bigs = await withPool({ adapter: TYPED, codec, int64: 'bigint' }, (pool) => pool.execute<Record<string, unknown>>('ints'));
      assert.deepEqual(bigs.column, [9n, big, -1n]);
      assert.deepEqual(bigs.nested, { n: 1n });
      assert.deepEqual([...(bigs.keys as Map<unknown, unknown>).keys()], [1n]);
      // MessagePack tells a float from an integer; JSON cannot (documented).
      assert.equal(bigs.float, codec === 'msgpack' ? 3 : 3n);
      // Chunks too.
      const chunks = await withPool({ adapter: TYPED, codec, int64: 'bigint' }, async (pool) => {
        const out: unknown[] = [];
        for await (const c of pool.stream('count', { n: 2 })) out.push(c);
        return out;
      });
      assert.deepEqual(chunks, [0n, 1n]);
    });
  }

  test('a bad int64 value is INVALID_OPTIONS', async () => {
    await rejectsWith(Pool.start({ adapter: TYPED, int64: 'huge' as 'auto' }), 'INVALID_OPTIONS', /options\.int64 must be "auto", "number" or "bigint", got "huge"/);
  });
});

describe('interpreter resolution', () => {
  const dirs: string[] = [];
  function venv(root: string): string {
    const bin = path.join(root, '.venv', 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(PYTHON, path.join(bin, 'python3'));
    return path.join(bin, 'python3');
  }

  test('options.python, $SNAKEPIT_PYTHON, $VIRTUAL_ENV, .venv beside the adapter, .venv in cwd, python3', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'snakepit-resolve-'));
    dirs.push(root);
    const project = path.join(root, 'project');
    const cwd = path.join(root, 'cwd');
    const active = path.join(root, 'active');
    const beside = venv(project);
    const inCwd = venv(cwd);
    mkdirSync(path.join(active, 'bin'), { recursive: true });
    symlinkSync(PYTHON, path.join(active, 'bin', 'python'));
    const adapterFile = path.join(project, 'tools.py');
    const env = { SNAKEPIT_PYTHON: '/opt/py', VIRTUAL_ENV: active };
    assert.deepEqual(resolvePython({ option: '/x/python', adapterFile, cwd, env }), { executable: '/x/python', reason: 'options.python' });
    assert.deepEqual(resolvePython({ adapterFile, cwd, env }), { executable: '/opt/py', reason: '$SNAKEPIT_PYTHON' });
    assert.equal(resolvePython({ adapterFile, cwd, env: { VIRTUAL_ENV: active } }).executable, path.join(active, 'bin', 'python'));
    assert.match(resolvePython({ adapterFile, cwd, env: { VIRTUAL_ENV: active } }).reason, /\$VIRTUAL_ENV/);
    assert.deepEqual(resolvePython({ adapterFile, cwd, env: {} }), { executable: beside, reason: 'a .venv beside the adapter' });
    assert.deepEqual(resolvePython({ cwd, env: {} }), { executable: inCwd, reason: 'a .venv in the working directory' });
    assert.deepEqual(resolvePython({ cwd: root, env: {} }), { executable: 'python3', reason: 'the default (python3 on PATH)' });
    // A $VIRTUAL_ENV without an interpreter is passed over.
    assert.equal(resolvePython({ cwd, env: { VIRTUAL_ENV: path.join(root, 'none') } }).executable, inCwd);
  });

  test('a Python that does not run: the error names it and why it was chosen', async () => {
    await rejectsWith(
      Pool.start({ adapter: TYPED, size: 1, python: '/nonexistent/python3' }),
      'WORKER_START_FAILED',
      /cannot run Python executable "\/nonexistent\/python3" \(chosen by options\.python\): ENOENT/,
    );
  });

  test('the pool uses the .venv beside the adapter, and says which Python failed an import', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'snakepit-resolve-'));
    dirs.push(root);
    const python = venv(root);
    writeFileSync(path.join(root, 'tools.py'), 'import not_installed_anywhere\n');
    writeFileSync(path.join(root, 'ok.py'), 'import sys\nfrom snakepit_bridge import tool\n\n@tool\ndef exe() -> str:\n    return sys.executable\n');
    const saved = process.env.SNAKEPIT_PYTHON;
    delete process.env.SNAKEPIT_PYTHON;
    const savedVenv = process.env.VIRTUAL_ENV;
    delete process.env.VIRTUAL_ENV;
    try {
      const pool = await Pool.start({ adapter: path.join(root, 'ok.py'), size: 1, cwd: tmpdir(), codec: 'json' });
      try {
        assert.equal(pool.options.python, python);
        assert.equal(pool.options.pythonReason, 'a .venv beside the adapter');
        assert.equal(await pool.execute('exe'), python);
      } finally {
        await pool.close();
      }
      await rejectsWith(
        Pool.start({ adapter: path.join(root, 'tools.py'), size: 1, cwd: tmpdir(), codec: 'json' }),
        'WORKER_START_FAILED',
        new RegExp(`with Python "${python.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": ModuleNotFoundError`),
      );
    } finally {
      if (saved !== undefined) process.env.SNAKEPIT_PYTHON = saved;
      if (savedVenv !== undefined) process.env.VIRTUAL_ENV = savedVenv;
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
