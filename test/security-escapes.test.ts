/**
 * Hostile names and references (reliability.md R28): the four escapes found in review, then a
 * catalogue of further attempts. Each must reject with PERMISSION_DENIED, and none may run: the
 * attempts that would execute something try to create a marker file, which must never appear.
 */

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermissionDeniedError, type Pool, type PythonRef, type Session } from '../src/index.js';
import { resolvePoolOptions } from '../src/options.js';
import { PoolCore } from '../src/pool/core.js';
import { PYTHON, fixture, rejection, startPool } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-escape-'));
const MARKER = path.join(dir, 'pwned');
const TOUCH = `touch ${MARKER}`;
const SECRET = 'host-secret-token-8c1f';

const allow = [
  'numpy.*', 'os.path.*', 'os.*', 'subprocess.*', 'traceback.*', 'threading.*', 'site.*', 'sqlite3.*', 'zipfile.*', 'importlib.*', 'builtins.*', 'io.*', 'pickle.*', 'marshal.*',
  'shelve.*', 'ctypes.*', 'operator.*', 'functools.*', 'sys.*', 'gc.*', 'inspect.*', 'types.*', 'code.*', 'timeit.*',
  'runpy.*', 'pdb.*', 'shutil.*', 'tempfile.*', 'pathlib.*', 'string.*', 'collections.*', 'hostile_lib.*', 'math.*',
  'asyncio.*', 'multiprocessing.*', 'signal.*', 'codecs.*',
];

async function denied(attempt: Promise<unknown>, what: string): Promise<void> {
  const err = await rejection(attempt);
  assert.ok(err instanceof PermissionDeniedError, `${what}: expected PERMISSION_DENIED, got ${err.code}: ${err.message}`);
}

describe('security: escapes', () => {
  let pool: Pool;
  let s: Session;
  before(async () => {
    pool = await startPool({ adapter: fixture('hostile.py'), size: 1, allow, env: { PYTHONPATH: fixture(''), SECRET_TOKEN: SECRET } });
    s = pool.session();
  });
  after(async () => {
    await s.close();
    await pool.destroy();
    assert.equal(existsSync(MARKER), false, 'no attempt ran its payload');
    rmSync(dir, { recursive: true, force: true });
  });

  it('escape 1: numpy.* does not reach numpy.distutils.exec_command', async () => {
    await denied(pool.python.call('numpy.distutils.exec_command.exec_command', [TOUCH]), 'exec_command');
  });

  it('escape 2: numpy.* grants neither savetxt nor load(allow_pickle=True)', async () => {
    const payload = path.join(dir, 'payload.pkl');
    writeFileSync(payload, `cos\nsystem\n(S'${TOUCH}'\ntR.`, 'latin1');
    await denied(pool.python.call('numpy.savetxt', [payload, [[0]]], { kwargs: { header: 'x', comments: '' } }), 'savetxt');
    await denied(pool.python.call('numpy.load', [payload], { kwargs: { allow_pickle: true } }), 'load');
    assert.equal(await pool.python.call('numpy.sqrt', [16]), 4, 'numpy.* still grants numpy functions');
  });

  it('escape 3: os.path.* does not read the environment', async () => {
    await denied(pool.python.call('os.path.expandvars', ['$SECRET_TOKEN']), 'expandvars');
    await denied(pool.python.call('os.path.expanduser', ['~']), 'expanduser');
    assert.equal(await pool.python.call('os.path.basename', ['/a/b']), 'b');
  });

  it('escape 4: a generator reference does not lead to its frame, its builtins, or exec', async () => {
    const gen = await s.execute<PythonRef>('gen');
    await denied(gen.get('gi_frame'), 'gi_frame');
    await denied(gen.get('gi_code'), 'gi_code');
    await denied(gen.call('__next__'), '__next__');
    assert.equal(await gen.call('send', [null]), 1, 'the generator itself is usable');
  });

  // Further reference walks, each [what, attempt].
  const walks: [string, (r: Record<string, PythonRef>) => Promise<unknown>][] = [
    ['coroutine cr_frame', (r) => r.coro!.get('cr_frame')],
    ['coroutine cr_code', (r) => r.coro!.get('cr_code')],
    ['async generator ag_frame', (r) => r.agen!.get('ag_frame')],
    ['async generator ag_code', (r) => r.agen!.get('ag_code')],
    ['exception __traceback__', (r) => r.error!.get('__traceback__')],
    ['exception __class__', (r) => r.error!.get('__class__')],
    ['method returning a traceback', (r) => r.holder!.call('tb')],
    ['method returning a frame', (r) => r.holder!.call('frame')],
    ['property returning a frame', (r) => r.holder!.get('here')],
    ['method returning module globals', (r) => r.holder!.call('namespace')],
    ['method returning the builtins mapping', (r) => r.holder!.call('builtins_dict')],
    ['method returning a code object', (r) => r.holder!.call('code')],
    ['instance attribute holding os.system, read', (r) => r.holder!.get('callback')],
    ['instance attribute holding os.system, called', (r) => r.holder!.call('callback', [TOUCH])],
    ['staticmethod(os.system) on the class', (r) => r.holder!.call('run', [TOUCH])],
    ['staticmethod(exec) on the class', (r) => r.holder!.call('loader_cls', [`open(${JSON.stringify(MARKER)}, 'w')`])],
    ['function attribute', (r) => r.holder!.get('fn')],
    ['class attribute', (r) => r.holder!.get('cls')],
    ['module attribute', (r) => r.holder!.get('mod')],
    ['bound method as a value', (r) => r.holder!.get('predict')],
    ['__self__ of a method', (r) => r.holder!.get('__init__')],
    ['__dict__', (r) => r.holder!.get('__dict__')],
    ['__getattribute__', (r) => r.holder!.call('__getattribute__', ['callback'])],
    ['a list of builtins, popped', async (r) => (await r.holder!.call<PythonRef>('funcs')).call('pop')],
    ['a list of builtins, indexed', async (r) => (await r.holder!.call<PythonRef>('funcs')).call('__getitem__', [0])],
    ['__getitem__ on a generator', (r) => r.coro!.call('__getitem__', [0])],
    ['a dict of builtins, get', async (r) => (await r.holder!.call<PythonRef>('table')).call('get', ['exec'])],
    ['a dict of builtins, setdefault', async (r) => (await r.holder!.call<PythonRef>('table')).call('setdefault', ['exec'])],
    ['a dict view of builtins, then its mapping', async (r) => (await r.holder!.call<PythonRef>('table')).call('values')
      .then((v) => (v as PythonRef).get('mapping'))],
    ['a narrowed reference: a method not exposed', (r) => r.narrow!.call('frame')],
    ['a narrowed reference: an attribute not exposed', (r) => r.narrow!.get('data')],
    ['ndarray.ctypes (raw memory)', (r) => r.array!.get('ctypes')],
    ['ndarray.tofile', (r) => r.array!.call('tofile', [MARKER])],
    ['ndarray.dump', (r) => r.array!.call('dump', [MARKER])],
  ];

  it(`further reference walks (${walks.length}) are refused`, async () => {
    const refs: Record<string, PythonRef> = {};
    for (const tool of ['coro', 'agen', 'error', 'holder', 'narrow']) refs[tool] = await s.execute<PythonRef>(tool);
    refs.array = await s.python.create('numpy.ndarray', [[3]]);
    for (const [what, attempt] of walks) await denied(attempt(refs), what);
    assert.equal(await refs.holder!.call('predict', [2]), 4, 'public methods work');
    assert.equal(await refs.holder!.get('size'), 3, 'public data works');
    const table = await refs.holder!.call<PythonRef>('table');
    assert.deepEqual([await table.call('__len__'), await table.call('__getitem__', ['n']), await table.call('__contains__', ['exec'])], [2, 1, true], 'len, indexing, in');
    assert.equal(await refs.narrow!.call('predict', [3]), 6, 'an exposed method works');
  });

  const raw = ['exec', 'getattr', 'frame', 'module', 'code', 'function', 'class', 'partial', 'attrgetter', 'methodcaller',
    'formatter', 'globals', 'builtins', 'bound'];
  it(`a tool cannot make a reference to what references never stand for (${raw.length})`, async () => {
    for (const what of raw) await denied(s.execute('raw', { what }), `ctx.ref(${what})`);
  });

  // Names under wildcards, and names no pattern grants.
  const names: [string, unknown[]][] = [
    ['numpy.ctypeslib.load_library', ['libc', '/lib']],
    ['numpy.lib.format.read_array', []],
    ['numpy.save', [path.join(dir, 'x.npy'), [1]]],
    ['numpy.memmap', [path.join(dir, 'm'), 'uint8', 'w+', 0, [4]]],
    ['numpy.testing.assert_equal', [1, 1]],
    ['numpy.f2py.compile', ['']],
    ['os.path.os.system', [TOUCH]],
    ['os.system', [TOUCH]],
    ['os.popen', [TOUCH]],
    ['os.execv', ['/bin/sh', ['sh', '-c', TOUCH]]],
    ['os.spawnv', [0, '/bin/sh', ['sh', '-c', TOUCH]]],
    ['os.posix_spawn', ['/bin/sh', ['sh', '-c', TOUCH], {}]],
    ['os.getenv', ['SECRET_TOKEN']],
    ['os.putenv', ['A', 'B']],
    ['os.remove', [MARKER]],
    ['subprocess.run', [['touch', MARKER]]],
    ['subprocess.Popen', [['touch', MARKER]]],
    ['subprocess.getoutput', [TOUCH]],
    ['importlib.import_module', ['os']],
    ['builtins.getattr', [1, 'real']],
    ['builtins.exec', ['1']],
    ['builtins.eval', ['1']],
    ['builtins.compile', ['1', 'x', 'eval']],
    ['builtins.open', [MARKER, 'w']],
    ['builtins.vars', []],
    ['builtins.len', [[1]]],
    ['io.open', [MARKER, 'w']],
    ['io.FileIO', [MARKER, 'w']],
    ['pickle.loads', [Buffer.from(`cos\nsystem\n(S'${TOUCH}'\ntR.`, 'latin1')]],
    ['marshal.loads', [Buffer.from([0x4e])]],
    ['shelve.open', [path.join(dir, 'shelf')]],
    ['ctypes.CDLL', ['libc.so.6']],
    ['operator.attrgetter', ['__globals__']],
    ['operator.methodcaller', ['__reduce__']],
    ['functools.partial', [1]],
    ['functools.reduce', [1, [1]]],
    ['sys.exit', [3]],
    ['gc.get_objects', []],
    ['inspect.currentframe', []],
    ['types.FunctionType', []],
    ['code.InteractiveInterpreter', []],
    ['timeit.timeit', [`open(${JSON.stringify(MARKER)}, 'w')`]],
    ['runpy.run_path', [MARKER]],
    ['pdb.run', ['1']],
    ['shutil.rmtree', [dir]],
    ['tempfile.mkstemp', []],
    ['pathlib.Path', [MARKER]],
    ['string.Formatter', []],
    ['asyncio.create_subprocess_shell', [TOUCH]],
    ['multiprocessing.Process', []],
    ['signal.pthread_kill', [1, 9]],
    ['codecs.open', [MARKER, 'w']],
    ['hostile_lib.inner.shell', [TOUCH]],
    ['hostile_lib.run_code', [`open(${JSON.stringify(MARKER)}, 'w')`]],
    ['hostile_lib.loader', [Buffer.from('N.')]],
    ['hostile_lib.np_loader', [MARKER]],
    ['collections.namedtuple', ['X', 'a']],
    ['traceback.walk_stack', [null]],
    ['threading.enumerate', []],
    ['asyncio.get_event_loop', []],
    ['site.addsitedir', [dir]],
    ['sqlite3.connect', [path.join(dir, 'db')]],
    ['zipfile.ZipFile', [path.join(dir, 'z.zip'), 'w']],
  ];

  it(`further names (${names.length}) are refused, on the host or in the worker`, async () => {
    for (const [name, args] of names) await denied(s.python.call(name, args), name);
    assert.equal(await s.python.call('hostile_lib.harmless', [1]), 2, 'a wildcard still grants what a module defines');
    assert.equal(await pool.python.call('math.sqrt', [4]), 2);
  });

  it('the worker refuses the same names when the host check is bypassed', async () => {
    const core = new PoolCore(
      resolvePoolOptions({ adapter: fixture('hostile.py'), python: PYTHON, size: 1, allow, env: { PYTHONPATH: fixture('') } }),
      new EventEmitter(),
    );
    await core.start();
    try {
      for (const name of ['numpy.load', 'os.path.expandvars', 'os.system', 'builtins.getattr', 'numpy.distutils.exec_command.exec_command',
        'subprocess.run', 'importlib.import_module', 'pickle.loads']) {
        const err = await rejection(core.execute('$python.call', { name, args: [TOUCH], kwargs: {}, mode: 'auto' }, undefined, { builtin: true }));
        assert.ok(err instanceof PermissionDeniedError, `${name}: ${err.message}`);
      }
    } finally {
      await core.destroy();
    }
  });
});
