import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ERROR_CODES,
  EncodeError,
  InvalidArgumentsError,
  InvalidOptionsError,
  NotStreamingError,
  PayloadTooLargeError,
  Pool,
  PythonError,
  SnakepitError,
  ToolNotFoundError,
  WorkerStartError,
} from '../src/index.js';
import { PYTHON, ROOT, TRANSPORT, fixture, rejection, startPool } from './helpers.js';

describe('errors: bad calls get typed errors', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ maxPayload: 64 * 1024 });
  });
  after(() => pool.destroy());

  it('a Python exception arrives as PythonError with type, module, message and traceback', async () => {
    const err = await rejection(pool.execute('boom', { message: 'it broke' }));
    assert.ok(err instanceof PythonError);
    assert.equal(err.code, 'PYTHON_ERROR');
    assert.equal(err.pythonType, 'ValueError');
    assert.equal(err.pythonModule, 'builtins');
    assert.match(err.message, /ValueError: it broke/);
    assert.match(err.traceback, /Traceback \(most recent call last\)/);
    assert.match(err.traceback, /basic\.py/);
    assert.equal(err.tool, 'boom');
    assert.equal(err.retryable, false);
  });

  it('an unknown tool is rejected before dispatch, listing the tools that exist', async () => {
    const err = await rejection(pool.execute('nope', {}));
    assert.ok(err instanceof ToolNotFoundError);
    assert.match(err.message, /"nope".*aadd, acount, add/);
    assert.ok(err.available.includes('echo'));
  });

  it('missing, extra and misnamed arguments name the parameter', async () => {
    const missing = await rejection(pool.execute('add', { b: 1 }));
    assert.ok(missing instanceof InvalidArgumentsError);
    assert.match(missing.message, /missing a required argument: 'a'/);
    const extra = await rejection(pool.execute('add', { a: 1, b: 2, c: 3 }));
    assert.match(extra.message, /unexpected keyword argument 'c'/);
    const misnamed = await rejection(pool.execute('echo', { valu: 1 }));
    assert.match(misnamed.message, /valu|value/);
    const notObject = await rejection(pool.execute('add', [1, 2] as unknown as Record<string, unknown>));
    assert.equal(notObject.code, 'INVALID_ARGUMENTS');
    const badName = await rejection(pool.execute(42 as unknown as string));
    assert.equal(badName.code, 'INVALID_ARGUMENTS');
  });

  it('a result Python cannot encode names the Python type; the worker goes on', async () => {
    const err = await rejection(pool.execute('unencodable'));
    assert.ok(err instanceof EncodeError);
    assert.match(err.message, /Python type object/);
    assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
  });

  it('an argument JavaScript cannot encode names the JavaScript type', async () => {
    const err = await rejection(pool.execute('echo', { value: { f: () => 1 } }));
    assert.ok(err instanceof EncodeError);
    assert.match(err.message, /JavaScript type function/);
    const sym = await rejection(pool.execute('echo', { value: Symbol('s') }));
    assert.match(sym.message, /JavaScript type symbol/);
  });

  it('payloads over maxPayload are refused in both directions, and the worker survives', async () => {
    const out = await rejection(pool.execute('echo', { value: Buffer.alloc(100 * 1024) }));
    assert.ok(out instanceof PayloadTooLargeError);
    assert.match(out.message, /arguments of echo/);
    const back = await rejection(pool.execute('echo', { value: 'y'.repeat(70 * 1024) }));
    assert.ok(back instanceof SnakepitError);
    assert.ok(['PAYLOAD_TOO_LARGE'].includes(back.code), back.message);
    assert.equal(await pool.execute('add', { a: 2, b: 2 }), 4);
  });

  it('execute on a generator and stream on a plain tool say which to use', async () => {
    const err = await rejection(pool.execute('count', { n: 3 }));
    assert.ok(err instanceof NotStreamingError);
    assert.match(err.message, /pool\.stream/);
    assert.throws(() => pool.stream('add', { a: 1 }), NotStreamingError);
  });

  it('bad call options are rejected with a message naming the option', async () => {
    const err = await rejection(pool.execute('add', { a: 1 }, { timeout: -1 }));
    assert.ok(err instanceof InvalidOptionsError);
    assert.match(err.message, /timeout/);
    const sig = await rejection(pool.execute('add', { a: 1 }, { signal: {} as AbortSignal }));
    assert.match(sig.message, /signal must be an AbortSignal/);
    const unknown = await rejection(pool.execute('add', { a: 1 }, { timeuot: 5 } as never));
    assert.match(unknown.message, /timeuot/);
  });
});

describe('errors: workers that cannot start', () => {
  const start = (adapter: string, extra: Record<string, unknown> = {}) =>
    rejection(Pool.start({ adapter, python: PYTHON, size: 2, transport: TRANSPORT, ...extra }));

  it('a missing adapter file is an options error naming the path', async () => {
    const err = await start(fixture('does_not_exist.py'));
    assert.ok(err instanceof InvalidOptionsError);
    assert.match(err.message, /does_not_exist\.py/);
  });

  it('a syntax error rejects start with the Python traceback', async () => {
    const err = await start(fixture('syntax_error.py'));
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'import');
    assert.match(err.message, /SyntaxError/);
    assert.match(err.pythonTraceback, /syntax_error\.py/);
  });

  it('an import error and a module without tools are reported', async () => {
    const imp = await start(fixture('import_error.py'));
    assert.match(imp.message, /ModuleNotFoundError: No module named 'module_that_does_not_exist'/);
    const none = await start(fixture('no_tools.py'));
    assert.match(none.message, /defines no @tool functions/);
    const mod = await start('package_that_does_not_exist.mod');
    assert.match(mod.message, /No module named 'package_that_does_not_exist'/);
  });

  it('a failing setup() is reported with its phase and traceback', async () => {
    const err = await start(fixture('setup_fails.py'));
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'setup');
    assert.match(err.message, /setup\(\) of the adapter failed: RuntimeError: database unreachable/);
  });

  it('a wrong Python executable is named in the error', async () => {
    const err = await start(fixture('basic.py'), { python: '/no/such/python3' });
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'spawn');
    assert.match(err.message, /\/no\/such\/python3.*ENOENT/);
  });

  it('an executable that is not a Python with the bridge fails with its stderr tail', async () => {
    const err = await start(fixture('basic.py'), { python: '/bin/false' });
    assert.ok(err instanceof WorkerStartError);
    assert.match(err.message, /exited with code 1 before it was ready/);
  });

  it('a worker that never says hello fails after startupTimeout', async () => {
    const err = await start(fixture('basic.py'), { python: fixture('silent_python.sh'), startupTimeout: 300 });
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'timeout');
  });
});

describe('errors: the table of codes', () => {
  it('docs/errors.md lists every error code', () => {
    const doc = readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
    for (const code of ERROR_CODES) assert.match(doc, new RegExp(`\\\`${code}\\\``), `${code} missing from docs/errors.md`);
  });
});
