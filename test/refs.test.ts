import assert from 'node:assert/strict';
import { getHeapSnapshot } from 'node:v8';
import { after, before, describe, it } from 'node:test';
import { InvalidRefError, PermissionDeniedError, Pool, PythonRef, SessionLostError, TooManyRefsError } from '../src/index.js';
import { fixture, rejection, startPool, waitFor, withPool } from './helpers.js';

const adapter = fixture('sessions.py');

/** A full garbage collection, without --expose-gc: V8 collects before it takes a heap snapshot. */
function gc(): void {
  getHeapSnapshot().destroy();
}

async function until(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('references', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ adapter, size: 2 });
  });
  after(() => pool.destroy());

  it('a tool returns a Python object as a handle whose methods and attributes are reachable', async () => {
    const s = pool.session();
    const model = await s.execute<PythonRef>('model', { weight: 2 });
    assert.ok(model instanceof PythonRef);
    assert.equal(model.type, 'sessions.Model');
    assert.equal(model.session, s.id);
    assert.equal(await model.call('predict', [3]), 6);
    assert.equal(await model.call('predict', [3], { kwargs: { bias: 1 } }), 7);
    assert.equal(await model.get('weight'), 2);
    assert.equal(await model.get('calls'), 2);
    assert.deepEqual(await model.call('describe'), { weight: 2, calls: 2 });
    const clone = await model.call<PythonRef>('clone');
    assert.ok(clone instanceof PythonRef, 'a result with no wire encoding is another reference');
    assert.notEqual(clone.id, model.id);
    assert.equal(await s.execute('use', { m: model, x: 10 }), 20, 'a handle passed back is the object again');
    const many = await s.execute<{ items: PythonRef[]; count: number }>('models', { n: 3 });
    assert.equal(many.count, 3);
    assert.ok(many.items.every((r) => r instanceof PythonRef));
    assert.deepEqual(await Promise.all(many.items.map((r) => r.get('weight'))), [0, 1, 2]);
    await s.close();
  });

  it('private attributes are out of reach', async () => {
    const s = pool.session();
    const model = await s.execute<PythonRef>('model', { weight: 1 });
    for (const attr of ['_private', '__class__', '__dict__']) {
      assert.ok((await rejection(model.get(attr))) instanceof PermissionDeniedError, attr);
    }
    assert.equal((await rejection(model.call('__init__'))).code, 'PERMISSION_DENIED');
    await s.close();
  });

  it('a handle used after release, from another session or outside one, is a clear error', async () => {
    const s = pool.session();
    const t = pool.session();
    const model = await s.execute<PythonRef>('model', { weight: 1 });
    const foreign = await rejection(t.execute('use', { m: model, x: 1 }));
    assert.ok(foreign instanceof InvalidRefError);
    assert.match(foreign.message, new RegExp(`belongs to session '${s.id}', not to session '${t.id}'`));
    const outside = await rejection(pool.execute('use', { m: model, x: 1 }));
    assert.ok(outside instanceof InvalidRefError);
    assert.match(outside.message, /outside its session/);
    assert.equal(await s.execute('ref_count'), 1);
    await model.release();
    await model.release(); // idempotent
    assert.equal(model.released, true);
    assert.equal(await s.execute('ref_count'), 0, 'the worker dropped the object');
    const used = await rejection(model.call('predict', [1]));
    assert.ok(used instanceof InvalidRefError);
    assert.match(used.message, /was released/);
    await Promise.all([s.close(), t.close()]);
  });

  it('closing the session releases its references', async () => {
    const s = pool.session();
    const model = await s.execute<PythonRef>('model', { weight: 1 });
    await s.close();
    assert.equal(model.released, true);
    const err = await rejection(model.get('weight'));
    assert.ok(err instanceof InvalidRefError);
    assert.match(err.message, /is closed/);
  });

  it('references are released when their handles are garbage-collected', async () => {
    const s = pool.session();
    const keep = await s.execute<PythonRef>('model', { weight: 1 });
    await (async () => {
      await s.execute('models', { n: 5 }); // five handles, dropped at once
    })();
    assert.equal(await s.execute('ref_count'), 6);
    await until(async () => (await s.execute('ref_count')) === 1, 'collected handles to be released');
    assert.equal(await keep.get('weight'), 1, 'the handle still held works');
    await s.close();
  });
});

describe('references: bounds and loss', () => {
  it('a session holds at most maxRefs references', async () => {
    await withPool({ adapter, size: 1, maxRefs: 3 }, async (pool) => {
      const s = pool.session();
      const first = await s.execute<PythonRef>('model', { weight: 1 });
      await s.execute('models', { n: 2 });
      const err = await rejection(s.execute('model', { weight: 1 }));
      assert.ok(err instanceof TooManyRefsError);
      assert.match(err.message, /maxRefs/);
      await first.release();
      await s.execute('model', { weight: 1 });
    });
  });

  it('a handle of a lost session says so', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      const s = pool.session();
      const model = await s.execute<PythonRef>('model', { weight: 1 });
      await rejection(s.execute('crash'));
      const err = await rejection(model.call('predict', [1]));
      assert.ok(err instanceof SessionLostError);
      assert.equal(model.released, true);
      await model.release();
    });
  });

  it('after a rebind, handles of the old worker are void', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      const s = pool.session(undefined, { onLost: 'rebind' });
      const model = await s.execute<PythonRef>('model', { weight: 1 });
      await rejection(s.execute('crash'));
      await waitFor(() => pool.stats().workers.ready === 1, 10_000);
      const err = await rejection(model.get('weight'));
      assert.ok(err instanceof InvalidRefError);
      assert.match(err.message, /moved to another worker/);
    });
  });
});
