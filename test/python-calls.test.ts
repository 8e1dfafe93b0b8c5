import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { EncodeError, InvalidArgumentsError, PermissionDeniedError, Pool, PythonRef } from '../src/index.js';
import { resolvePoolOptions } from '../src/options.js';
import { checkAllowPattern, isAllowed } from '../src/pool/allowlist.js';
import { PoolCore } from '../src/pool/core.js';
import { PYTHON, fixture, rejection, startPool, withPool } from './helpers.js';

const adapter = fixture('sessions.py');
const allow = ['math.*', 'collections.*', 'numpy.*', 'numpy.linalg.*', 'json.dumps', 'fractions.Fraction', 'os.path.*'];

describe('python calls: allowed names', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ adapter, size: 1, allow, env: { PYTHONPATH: fixture('') } });
  });
  after(() => pool.destroy());

  it('calls an allowed function with positional and keyword arguments', async () => {
    assert.equal(await pool.python.call('math.sqrt', [16]), 4);
    assert.equal(await pool.python.call('json.dumps', [{ a: 1 }], { kwargs: { sort_keys: true } }), '{"a": 1}');
    assert.equal(await pool.python.call('numpy.linalg.norm', [[3, 4]]), 5);
    assert.equal(await pool.python.call('os.path.join', ['a', 'b']), 'a/b');
  });

  it('denies anything else before sending it, and the worker never imports it', async () => {
    const before = pool.stats().submitted;
    for (const name of ['os.system', 'never_import_me.run', 'json.loads', 'subprocess.run', 'mathx.sqrt']) {
      const err = await rejection(pool.python.call(name, []));
      assert.ok(err instanceof PermissionDeniedError, name);
      assert.equal(err.target, name);
      assert.match(err.message, /is not allowed by the pool's allow list: math\.\*, collections\.\*/);
    }
    assert.equal(pool.stats().submitted, before, 'nothing was sent');
    for (const name of ['math', 'math.__dict__', 'math._private', 'math.sqrt()', '']) {
      assert.equal((await rejection(pool.python.call(name))).code, 'PERMISSION_DENIED', name);
    }
    assert.equal(await pool.execute('imported', { name: 'never_import_me' }), false);
  });

  it('creates an object as a reference in a private session that ends with its last handle', async () => {
    const counter = await pool.python.create('collections.Counter', ['abracadabra']);
    assert.ok(counter instanceof PythonRef);
    assert.equal(counter.type, 'collections.Counter');
    assert.deepEqual(await counter.call('most_common', [2]), [['a', 5], ['b', 2]]);
    const fraction = await pool.python.create('fractions.Fraction', [3, 6]);
    assert.equal(await fraction.get('denominator'), 2);
    const derived = await counter.call<PythonRef>('keys');
    assert.ok(derived instanceof PythonRef, 'dict_keys has no wire encoding');
    await counter.release();
    assert.equal(derived.released, false, 'the private session lives while a handle from it does');
    assert.deepEqual(await pool.python.call('collections.OrderedDict', [[['x', 1]]]).catch((e: Error) => e.message), { x: 1 });
    await derived.release();
    assert.equal(counter.released, true);
    await fraction.release();
  });

  it('in a session, results with no wire encoding come back as references; outside one they are an encode error', async () => {
    const err = await rejection(pool.python.call('collections.deque', [[1, 2]]));
    assert.ok(err instanceof EncodeError);
    assert.match(err.message, /call it in a session to get a reference/);
    const s = pool.session();
    const dq = await s.python.call<PythonRef>('collections.deque', [[1, 2]]);
    assert.ok(dq instanceof PythonRef);
    assert.equal(dq.session, s.id);
    await dq.call('append', [3]);
    assert.equal(await s.python.call('math.fsum', [dq]), 6, 'a handle is an argument like any other');
    const created = await s.python.create('collections.Counter', ['aab']);
    assert.equal(created.session, s.id);
    await s.close();
    assert.equal(created.released, true);
  });

  it('a function is not a class and a class needs create()', async () => {
    const err = await rejection(pool.python.create('math.sqrt', [4]));
    assert.match(err.message, /not a class/);
    assert.equal((await rejection(pool.python.call('math.sqrt', 4 as never))).code, 'INVALID_ARGUMENTS');
    assert.ok((await rejection(pool.python.call(5 as never))) instanceof InvalidArgumentsError);
    assert.match((await rejection(pool.python.call('math.sqrt', [], { kwarg: 1 } as never))).message, /call option kwarg is not known/);
    const kwargs = await rejection(pool.python.call('math.sqrt', [], { kwargs: [1] as never }));
    assert.match(kwargs.message, /call option kwargs must be an object of keyword arguments/);
    assert.match((await rejection(pool.python.call('math.sqrt', [4], { timeout: -5 }))).message, /call option timeout must be/);
  });
});

describe('python calls: deny by default', () => {
  it('with no allow list every name is denied, on the host and again in the worker', async () => {
    const core = new PoolCore(resolvePoolOptions({ adapter, python: PYTHON, size: 1, env: { PYTHONPATH: fixture('') } }), new EventEmitter());
    await core.start();
    try {
      const host = await rejection(new Pool_python(core).call('math.sqrt', [4]));
      assert.match(host.message, /empty: every name is denied/);
      // Bypass the host's check: the worker refuses too, before importing.
      const args = { name: 'never_import_me.run', args: [], kwargs: {}, mode: 'auto' };
      const worker = await rejection(core.execute('$python.call', args, undefined, { builtin: true }));
      assert.ok(worker instanceof PermissionDeniedError);
      assert.equal(worker.target, 'never_import_me.run');
      assert.equal(await core.execute('imported', { name: 'never_import_me' }), false);
    } finally {
      await core.destroy();
    }
  });

  it('validates the allow option, naming the entry', () => {
    const base = { adapter, python: PYTHON };
    assert.throws(() => resolvePoolOptions({ ...base, allow: '*' }), /options\.allow must be an array/);
    assert.throws(() => resolvePoolOptions({ ...base, allow: ['*'] }), /options\.allow\[0\] .*would allow everything/);
    assert.throws(() => resolvePoolOptions({ ...base, allow: ['math.*', 'os._exit'] }), /options\.allow\[1\] has the private segment "_exit"/);
    assert.throws(() => resolvePoolOptions({ ...base, allow: ['a b'] }), /options\.allow\[0\] has the segment "a b"/);
    assert.throws(() => resolvePoolOptions({ ...base, allow: [3] }), /options\.allow\[0\] must be a string/);
    assert.deepEqual(resolvePoolOptions({ ...base, allow: ['numpy.*'] }).allow, ['numpy.*']);
    assert.deepEqual(resolvePoolOptions(base).allow, []);
  });

  it('matches exact names and whole modules only', () => {
    assert.equal(checkAllowPattern('numpy.*'), undefined);
    assert.ok(isAllowed('numpy.sqrt', ['numpy.*']));
    assert.ok(!isAllowed('numpy.linalg.norm', ['numpy.*']), 'a wildcard never reaches into a submodule');
    assert.ok(!isAllowed('numpy.load', ['numpy.*']), 'nor a deny-listed name');
    assert.ok(isAllowed('numpy.load', ['numpy.load']), 'which an exact pattern grants');
    assert.ok(!isAllowed('numpyx.norm', ['numpy.*']));
    assert.ok(!isAllowed('math.floor', ['math.sqrt']));
    assert.ok(isAllowed('math.sqrt', ['math.sqrt']));
  });

  it('a pool with an allow list runs a session python call end to end', async () => {
    await withPool({ adapter, allow: ['math.*'] }, async (pool) => {
      const s = pool.session();
      assert.equal(await s.python.call('math.floor', [2.5]), 2);
    });
  });
});

// The pool facade's PythonCalls over a bare PoolCore, for the deny-by-default test.
import { PythonCalls } from '../src/pool/python-calls.js';
class Pool_python extends PythonCalls {
  constructor(core: PoolCore) {
    super(core, undefined);
  }
}
