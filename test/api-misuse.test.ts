/**
 * The public API used wrongly from JavaScript, where the types do not stop a caller: constructors
 * that only the library calls, and functions given the wrong kind of value. Each gets a SnakepitError
 * that names the problem, not a TypeError from inside the library.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Agent,
  createGateway,
  generateClient,
  PythonRef,
  Pool,
  RemotePool,
  resolvePython,
  SnakepitError,
  useArrow,
  verifyAuditLog,
  type ErrorCode,
} from '../src/index.js';
import { fixture, withPool } from './helpers.js';

function throwsCode(fn: () => unknown, code: ErrorCode, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SnakepitError, `expected a SnakepitError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

// What a JavaScript caller can write; TypeScript refuses these calls.
const loose = <T>(value: T): any => value; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('constructors only the library calls', () => {
  test('new Pool() names Pool.start', () => {
    throwsCode(() => new (loose(Pool))({ adapter: fixture('plain_tools.py') }), 'INVALID_OPTIONS', /Pool\.start\(options\)/);
    throwsCode(() => new (loose(Pool))(), 'INVALID_OPTIONS', /not by `new Pool\(\)`/);
  });

  test('new RemotePool() names Pool.connect', () => {
    throwsCode(() => new (loose(RemotePool))(), 'INVALID_OPTIONS', /Pool\.connect\(options\)/);
  });

  test('new Agent() names Agent.start', () => {
    throwsCode(() => new (loose(Agent))({ pool: 'p', nats: { servers: 'nats://127.0.0.1:4222' } }), 'INVALID_OPTIONS', /Agent\.start\(options\)/);
  });

  test('new PythonRef() says where references come from', () => {
    throwsCode(() => new (loose(PythonRef))({ $ref: 1, session: 's', type: 'x.Y' }, {}), 'INVALID_REF', /result of a session call/);
  });

  test('the factories still make them after a refused new', async () => {
    assert.throws(() => new (loose(Pool))());
    await withPool({ adapter: fixture('plain_tools.py'), size: 1 }, async (pool) => {
      assert.ok(pool instanceof Pool);
      assert.deepEqual(await pool.execute('echo', { value: 1 }), 1);
    });
  });
});

describe('functions given the wrong kind of value', () => {
  test('createGateway checks its pool and options', async () => {
    throwsCode(() => createGateway(loose(undefined)), 'INVALID_OPTIONS', /needs a Pool made by Pool\.start, got undefined/);
    throwsCode(() => createGateway(loose({ execute() {} })), 'INVALID_OPTIONS', /needs a Pool made by Pool\.start, got object/);
    await withPool({ adapter: fixture('plain_tools.py'), size: 1 }, async (pool) => {
      throwsCode(() => createGateway(pool, loose(5)), 'INVALID_OPTIONS', /gateway options must be an object, got 5/);
      throwsCode(() => createGateway(pool, loose({ maxBody: 10 })), 'INVALID_OPTIONS', /gateway option maxBody is unknown \(known: auth, maxBodyBytes/);
      throwsCode(() => createGateway(pool, { maxBodyBytes: 0 }), 'INVALID_OPTIONS', /maxBodyBytes must be a positive integer, got 0/);
      throwsCode(() => createGateway(pool, { maxTimeout: -1 }), 'INVALID_OPTIONS', /maxTimeout must be a number of milliseconds >= 0, got -1/);
      throwsCode(() => createGateway(pool, loose({ exposeTracebacks: 'yes' })), 'INVALID_OPTIONS', /exposeTracebacks must be true or false, got "yes"/);
      throwsCode(() => createGateway(pool, loose({ auth: 'token' })), 'INVALID_OPTIONS', /auth must be an object of token -> tenant or a function/);
      throwsCode(() => createGateway(pool, loose({ auth: { t: 1 } })), 'INVALID_OPTIONS', /tenant of a token must be a non-empty string, got 1/);
      throwsCode(() => createGateway(pool, loose({ pages: { index: { contentType: 'text/html', body: 'x' } } })), 'INVALID_OPTIONS', /path "index" must start with \//);
      throwsCode(() => createGateway(pool, loose({ pages: { '/': { body: 'x' } } })), 'INVALID_OPTIONS', /pages\["\/"\] must be \{ contentType: string/);
      throwsCode(() => createGateway(pool, loose({ info: { title: 'x' } })), 'INVALID_OPTIONS', /info must be \{ title: string, version: string \}/);
      assert.equal(typeof createGateway(pool, { pages: { '/': { contentType: 'text/html', body: '<p>hi</p>' } } }), 'function');
    });
  });

  test('generateClient checks the catalogue and its options', () => {
    throwsCode(() => generateClient(loose(undefined), { source: 'x' }), 'INVALID_ARGUMENTS', /needs the tool catalogue \(pool\.tools\(\)\), an array, got undefined/);
    throwsCode(() => generateClient(loose([{ name: 'x' }]), { source: 'x' }), 'INVALID_ARGUMENTS', /catalogue entry 0 is not a tool description/);
    throwsCode(() => generateClient([], loose(undefined)), 'INVALID_OPTIONS', /options must be an object \(\{ source \}\), got undefined/);
    throwsCode(() => generateClient([], loose({})), 'INVALID_OPTIONS', /option source must be a string, got undefined/);
    throwsCode(() => generateClient([], loose({ source: 'x', int64: 'long' })), 'INVALID_OPTIONS', /int64 must be one of auto, number, bigint, got "long"/);
    assert.match(generateClient([], { source: 'x' }), /createClient/);
  });

  test('resolvePython checks its search', () => {
    throwsCode(() => resolvePython(loose(42)), 'INVALID_ARGUMENTS', /resolvePython takes \{ option\?, adapterFile\?, cwd, env\? \}, got 42/);
    throwsCode(() => resolvePython(loose({})), 'INVALID_ARGUMENTS', /cwd must be a directory path, got undefined/);
    throwsCode(() => resolvePython(loose({ cwd: '/', option: 3 })), 'INVALID_ARGUMENTS', /option must be a path, got 3/);
  });

  test('verifyAuditLog takes a path, never a file descriptor', () => {
    throwsCode(() => verifyAuditLog(loose(undefined)), 'INVALID_ARGUMENTS', /audit log's path, got undefined/);
    throwsCode(() => verifyAuditLog(loose(0)), 'INVALID_ARGUMENTS', /audit log's path, got 0/);
  });

  test('useArrow names the module it needs', () => {
    throwsCode(() => useArrow(loose(null)), 'INVALID_ARGUMENTS', /needs the apache-arrow module/);
  });
});

describe('a closed pool', () => {
  test('recycle and reload refuse once the pool is closed', async () => {
    const pool = await Pool.start({ adapter: fixture('plain_tools.py'), size: 1 });
    const id = pool.stats().workerList[0]!.id;
    await pool.close();
    await assert.rejects(pool.recycle(id), { code: 'POOL_CLOSED', message: 'pool is closed; it recycles no workers' });
    await assert.rejects(pool.reload(), { code: 'POOL_CLOSED', message: 'pool is closed; it reloads no workers' });
  });
});
