import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pool, PoolClosedError, type LogEvent, type WorkerExitEvent } from '../src/index.js';
import { PYTHON, alive, fixture, rejection, startPool, waitFor, withPool } from './helpers.js';

describe('pool: calling tools', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ size: 2 });
  });
  after(() => pool.destroy());

  it('runs sync and async tools and returns their results', async () => {
    assert.equal(await pool.execute('add', { a: 1, b: 2 }), 3);
    assert.equal(await pool.execute('add', { a: 5 }), 7, 'default argument applies');
    assert.equal(await pool.execute('aadd', { a: 4, b: 6 }), 10);
  });

  it('round-trips JSON-like values and bytes', async () => {
    const value = { s: 'héllo', n: 1.5, i: -7, b: true, z: null, list: [1, 'two', [3]], nested: { k: { v: 1 } } };
    assert.deepEqual(await pool.execute('echo', { value }), value);
    const bytes = await pool.execute<Buffer>('echo', { value: Buffer.from([0, 1, 255]) });
    assert.ok(Buffer.isBuffer(bytes));
    assert.deepEqual([...bytes], [0, 1, 255]);
  });

  it('lists the tool catalogue from Python signatures and docstrings', () => {
    const tools = pool.tools();
    const add = tools.find((t) => t.name === 'add');
    assert.ok(add);
    assert.equal(add.doc, 'Add two integers.');
    assert.equal(add.async, false);
    assert.equal(add.stream, false);
    assert.deepEqual(
      add.parameters.map((p) => [p.name, p.type, p.required, p.default]),
      [
        ['a', 'int', true, undefined],
        ['b', 'int', false, 2],
      ],
    );
    assert.equal(tools.find((t) => t.name === 'aadd')?.async, true);
    assert.equal(tools.find((t) => t.name === 'count')?.stream, true);
    // ctx is not a parameter the caller passes
    assert.deepEqual(tools.find((t) => t.name === 'sleep')?.parameters.map((p) => p.name), ['seconds']);
  });

  it('spreads concurrent calls over workers and counts them in stats', async () => {
    const before = pool.stats();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.execute('add', { a: i, b: i })));
    assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => 2 * i));
    const stats = pool.stats();
    assert.equal(stats.succeeded - before.succeeded, 50);
    assert.equal(stats.submitted - before.submitted, 50);
    assert.equal(stats.workers.ready, 2);
    assert.ok(stats.workerList.every((w) => w.completed > 0), 'both workers took calls');
    assert.ok(Object.isFrozen(stats));
    assert.ok(stats.runTime.count >= 50 && stats.runTime.p50 > 0);
    assert.equal(stats.inFlight, 0);
    assert.equal(stats.queued, 0);
  });
});

describe('pool: adapters', () => {
  it('loads a module of plain @tool functions and runs its setup once', async () => {
    await withPool({ adapter: fixture('modtools.py') }, async (pool) => {
      assert.deepEqual(pool.tools().map((t) => t.name).sort(), ['greet', 'import_path_head', 'modules_loaded', 'setup_count']);
      assert.equal(await pool.execute('greet', { name: 'ada' }), 'hello ada!');
      assert.equal(await pool.execute('setup_count'), 1);
      // A worker imports only what it uses: no asyncio without async tools, no inspect for plain
      // functions, no json once the handshake is over with MessagePack (nor for the zygote's control
      // channel), no sessions without a session; and none of what `python -m` loads (runpy, and
      // through it importlib.util): the worker's entry point runs without it (src/worker/process.ts).
      const names = ['asyncio', 'inspect', 'json', 'snakepit_bridge.sessions', 'snakepit_bridge.worker', 'runpy', 'importlib.util'];
      assert.deepEqual(await pool.execute('modules_loaded', { names }), {
        asyncio: false,
        inspect: false,
        json: false,
        'snakepit_bridge.sessions': false,
        'snakepit_bridge.worker': true,
        runpy: false,
        'importlib.util': false,
      });
    });
  });

  it('accepts path:Class and package.module:Attr adapter specs', async () => {
    await withPool({ adapter: `${fixture('basic.py')}:Basic` }, async (pool) => {
      assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
    });
    await withPool({ adapter: 'modtools', env: { PYTHONPATH: fixture('') } }, async (pool) => {
      assert.equal(await pool.execute('greet', { name: 'x', punctuation: '?' }), 'hello x?');
    });
  });

  it('resolves a relative adapter path against cwd', async () => {
    await withPool({ adapter: './basic.py', cwd: fixture('') }, async (pool) => {
      assert.equal(await pool.execute('add', { a: 2, b: 2 }), 4);
    });
  });

  it('puts the working directory first on the import path, absolute, as `python -m` does', async () => {
    // So a module adapter (and what it imports) is found in cwd, and an adapter that changes
    // directory later still imports from where the worker started.
    await withPool({ adapter: 'modtools', cwd: fixture('') }, async (pool) => {
      assert.equal(await pool.execute('import_path_head'), fixture(''));
    });
  });

  it('keeps working when the adapter prints to stdout, and reports the lines as log events', async () => {
    await withPool({ adapter: fixture('prints_at_import.py') }, async (pool) => {
      const lines: LogEvent[] = [];
      pool.on('log', (e) => lines.push(e));
      assert.equal(await pool.execute('loud', { x: 21 }), 42);
      await waitFor(() => lines.some((l) => l.line.includes('binary-ish')), 5000, 'stdout line');
      assert.ok(lines.every((l) => l.stream === 'stdout' && l.workerId === 1 && typeof l.pid === 'number'));
    });
  });

  it('works with several calls at once on one worker (concurrency)', async () => {
    await withPool({ concurrency: 4 }, async (pool) => {
      // Four sleeps of 300 ms on one worker with 4 slots all run at once: all four are in flight together.
      const calls = Array.from({ length: 4 }, () => pool.execute('asleep', { seconds: 0.3 }));
      await waitFor(() => pool.stats().inFlight === 4, 2000, 'four calls in flight');
      assert.equal(pool.stats().queued, 0);
      assert.deepEqual(await Promise.all(calls), ['slept', 'slept', 'slept', 'slept']);
      // Sync tools run in the worker's thread pool: four blocking sleeps overlap too.
      const syncCalls = Array.from({ length: 4 }, () => pool.execute('sleep', { seconds: 0.3 }));
      await waitFor(() => pool.stats().inFlight === 4, 2000, 'four sync calls in flight');
      assert.deepEqual(await Promise.all(syncCalls), [false, false, false, false]);
    });
  });
});

describe('pool: lifecycle', () => {
  it('close drains running and queued calls, then rejects new ones; close and destroy are idempotent', async () => {
    const pool = await startPool({ size: 1 });
    const pid = pool.stats().workerList[0]!.pid!;
    const running = pool.execute('asleep', { seconds: 0.2 });
    const queued = pool.execute('add', { a: 1, b: 1 });
    const closing = pool.close();
    assert.equal(pool.state, 'draining');
    const late = await rejection(pool.execute('add', { a: 1, b: 1 }));
    assert.ok(late instanceof PoolClosedError);
    assert.equal(await running, 'slept');
    assert.equal(await queued, 2);
    await closing;
    assert.equal(pool.state, 'closed');
    assert.equal(alive(pid), false, 'worker process is gone');
    await pool.close();
    await pool.destroy();
    assert.equal((await rejection(pool.execute('add', { a: 1 }))).code, 'POOL_CLOSED');
  });

  it('destroy rejects queued and running calls at once and kills the workers', async () => {
    const pool = await startPool({ size: 1 });
    const pid = pool.stats().workerList[0]!.pid!;
    const running = rejection(pool.execute('sleep', { seconds: 30 }));
    const queued = rejection(pool.execute('add', { a: 1, b: 1 }));
    await waitFor(() => pool.stats().inFlight === 1);
    await pool.destroy();
    assert.equal((await running).code, 'POOL_CLOSED');
    assert.equal((await queued).code, 'POOL_CLOSED');
    assert.equal(alive(pid), false);
    await pool.destroy();
    await pool.close();
  });

  it('emits spawn, ready and exit events on the pool', async () => {
    const exits: WorkerExitEvent[] = [];
    const pool = await Pool.start({ adapter: fixture('basic.py'), python: PYTHON, size: 1 });
    pool.on('workerExit', (e) => exits.push(e));
    await pool.close();
    assert.equal(exits.length, 1);
    assert.equal(exits[0]!.reason, 'shutdown');
    assert.equal(exits[0]!.code, 0);
  });
});
