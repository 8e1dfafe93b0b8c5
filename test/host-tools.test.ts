import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidOptionsError, Pool, PythonError, type HostToolContext } from '../src/index.js';
import { fixture, rejection, startPool, waitFor, withPool } from './helpers.js';

const adapter = fixture('sessions.py');

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

describe('host tools: Python calls TypeScript', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ adapter, size: 2 });
    pool.registerTool('double', ({ x }) => 2 * (x as number), {
      description: 'Twice x.',
      parameters: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] },
    });
    pool.registerTool('later', async ({ x }) => {
      await new Promise((r) => setTimeout(r, 5));
      return { got: x, list: [1, 'two'] };
    });
    pool.registerTool('fails', () => {
      throw new CodedError('QUOTA_EXCEEDED', 'no more today');
    });
    pool.registerTool('fails_plain', async () => {
      throw new TypeError('bad thing');
    });
    pool.registerTool('gives_function', () => ({ f: () => 1 }));
    pool.registerTool('throws_object', () => {
      throw { status: 42, reason: 'nope' }; // eslint-disable-line @typescript-eslint/only-throw-error
    });
    pool.registerTool('throws_text', () => {
      throw 'just text'; // eslint-disable-line @typescript-eslint/only-throw-error
    });
  });
  after(() => pool.destroy());

  it('a sync tool calls a host tool and gets its value; async tools await it', async () => {
    assert.equal(await pool.execute('ask', { name: 'double', args: { x: 21 } }), 42);
    assert.deepEqual(await pool.execute('ask', { name: 'later', args: { x: 'a' } }), { got: 'a', list: [1, 'two'] });
    assert.equal(await pool.execute('aask', { name: 'double', args: { x: 4 } }), 8);
    assert.deepEqual(await pool.execute('ask_twice'), [2, 4]);
  });

  it('ctx.host_tools() lists the host tools with their descriptions and parameters', async () => {
    const tools = await pool.execute<{ name: string; description: string; parameters: Record<string, unknown> }[]>('list_host');
    const double = tools.find((t) => t.name === 'double');
    assert.equal(double?.description, 'Twice x.');
    assert.deepEqual(double?.parameters.required, ['x']);
    assert.deepEqual(tools.map((t) => t.name).sort(), pool.hostTools().map((t) => t.name).sort());
  });

  it('a host tool that throws arrives in Python as HostToolError with the code and message', async () => {
    assert.deepEqual(await pool.execute('ask_caught', { name: 'fails' }), { code: 'QUOTA_EXCEEDED', message: 'no more today' });
    assert.deepEqual(await pool.execute('ask_caught', { name: 'fails_plain' }), {
      code: 'HOST_TOOL_ERROR',
      message: 'TypeError: bad thing',
    });
    const missing = await pool.execute<{ code: string; message: string }>('ask_caught', { name: 'nope' });
    assert.equal(missing.code, 'TOOL_NOT_FOUND');
    assert.match(missing.message, /no host tool named "nope"; host tools: double, later/);
    const invalid = await pool.execute<{ code: string; message: string }>('ask_caught', { name: 'double' });
    assert.deepEqual(invalid, { code: 'INVALID_ARGUMENTS', message: 'host tool double is missing x' });
    // What is thrown that is not an Error arrives as inspect shows it, not as "[object Object]".
    assert.deepEqual(await pool.execute('ask_caught', { name: 'throws_object' }), { code: 'HOST_TOOL_ERROR', message: "{ status: 42, reason: 'nope' }" });
    assert.deepEqual(await pool.execute('ask_caught', { name: 'throws_text' }), { code: 'HOST_TOOL_ERROR', message: 'just text' });
    const unencodable = await pool.execute<{ code: string }>('ask_caught', { name: 'gives_function' });
    assert.equal(unencodable.code, 'ENCODE_ERROR');
    const uncaught = await rejection(pool.execute('ask', { name: 'fails' }));
    assert.ok(uncaught instanceof PythonError);
    assert.equal(uncaught.pythonType, 'HostToolError');
    assert.match(uncaught.message, /QUOTA_EXCEEDED: no more today/);
  });

  it('session host tools are seen by that session only and shadow pool tools', async () => {
    const s = pool.session();
    const other = pool.session();
    const unregister = s.registerTool('double', ({ x }) => 3 * (x as number));
    s.registerTool('secret', () => s.id);
    assert.equal(await s.execute('ask', { name: 'double', args: { x: 2 } }), 6);
    assert.equal(await s.execute('ask', { name: 'secret' }), s.id);
    assert.equal(await other.execute('ask', { name: 'double', args: { x: 2 } }), 4);
    assert.equal((await other.execute<{ code: string }>('ask_caught', { name: 'secret' })).code, 'TOOL_NOT_FOUND');
    const names = (await s.execute<{ name: string }[]>('list_host')).map((t) => t.name);
    assert.equal(names.filter((n) => n === 'double').length, 1);
    assert.ok(names.includes('secret'));
    unregister();
    assert.equal(await s.execute('ask', { name: 'double', args: { x: 2 } }), 4);
    await Promise.all([s.close(), other.close()]);
  });

  it('the host tool sees the calling call: its session, tool, deadline and signal', async () => {
    const seen: HostToolContext[] = [];
    const unregister = pool.registerTool('inspect', (_args, ctx) => {
      seen.push(ctx);
      return null;
    });
    const s = pool.session();
    await s.execute('ask', { name: 'inspect' }, { timeout: 5000 });
    unregister();
    const ctx = seen[0]!;
    assert.equal(ctx.session, s);
    assert.equal(ctx.tool, 'ask');
    assert.ok(ctx.timeout !== null && ctx.timeout > 0 && ctx.timeout <= 5000);
    assert.equal(ctx.pid, s.pid);
    assert.equal(ctx.signal.aborted, true, 'the signal fires once the calling call is over');
    await s.close();
  });

  it('validates registrations, naming the problem', () => {
    assert.throws(() => pool.registerTool('$x', () => 1), /host tool name must be/);
    assert.throws(() => pool.registerTool('ok_name', 5 as never), /fn must be a function/);
    assert.throws(() => pool.registerTool('ok_name', () => 1, { describe: 'x' } as never), /host tool option describe is not known/);
    assert.throws(() => pool.registerTool('ok_name', () => 1, { parameters: [] as never }), /parameters must be an object/);
    assert.throws(() => pool.registerTool('ok_name', () => 1, { parameters: { required: 'x' } }), /parameters\.required must be an array/);
    assert.throws(() => pool.registerTool('double', () => 1), InvalidOptionsError);
  });
});

describe('host tools: nested calls, deadlines and cancellation', () => {
  it('a host tool may call Python again when capacity allows; Python errors arrive as usual', async () => {
    await withPool({ adapter, size: 2 }, async (pool) => {
      pool.registerTool('nested_add', async ({ x }) => (await pool.execute<number>('ask', { name: 'double', args: { x } })) + 1);
      pool.registerTool('double', ({ x }) => 2 * (x as number));
      assert.equal(await pool.execute('ask', { name: 'nested_add', args: { x: 5 } }), 11);
      pool.registerTool('nested_error', async () => {
        const err = await rejection(pool.execute('no_session'));
        assert.ok(err instanceof PythonError);
        throw err;
      });
      const caught = await pool.execute<{ code: string; message: string }>('ask_caught', { name: 'nested_error' });
      assert.equal(caught.code, 'PYTHON_ERROR');
      assert.match(caught.message, /RuntimeError: tool 'no_session' was not called in a session/);
    });
  });

  it('a nested call with no free slot fails at once instead of deadlocking', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      pool.registerTool('reenter', () => pool.execute('plain'));
      // A deadlock would end at the 10 s deadline with TIMEOUT; NESTED_CALL_BLOCKED means it failed at once.
      const result = await pool.execute<{ code: string; message: string }>('ask_caught', { name: 'reenter' }, { timeout: 10_000 });
      assert.equal(result.code, 'NESTED_CALL_BLOCKED');
      assert.match(result.message, /no free slot .* waiting could deadlock/);
      const s = pool.session();
      await s.execute('plain');
      s.registerTool('reenter_session', () => s.execute('plain'));
      const inSession = await s.execute<{ code: string }>('ask_caught', { name: 'reenter_session' });
      assert.equal(inSession.code, 'NESTED_CALL_BLOCKED');
    });
    await withPool({ adapter, size: 1, concurrency: 2 }, async (pool) => {
      pool.registerTool('reenter', () => pool.execute('plain'));
      assert.equal(await pool.execute('ask', { name: 'reenter' }), 1, 'a free slot on the same worker is used');
    });
  });

  it("deadlines and cancellation travel through callbacks", async () => {
    await withPool({ adapter, size: 2, cancelGrace: 2000 }, async (pool) => {
      let signal: AbortSignal | undefined;
      let nested: Promise<Error & { code?: string }> | undefined;
      pool.registerTool('slow', (_args, ctx) => {
        signal = ctx.signal;
        nested = rejection(pool.execute('hold', { seconds: 30 }));
        return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted')));
      });
      const lines: string[] = [];
      pool.on('log', (e) => lines.push(e.line));
      const err = await rejection(pool.execute('ask_slow', {}, { timeout: 300 }));
      assert.equal(err.code, 'TIMEOUT');
      assert.equal(signal?.aborted, true, "the host tool's signal fired at the deadline");
      const nestedErr = await nested!;
      assert.ok(['TIMEOUT', 'ABORTED'].includes(nestedErr.code!), nestedErr.code);
      await waitFor(() => lines.some((l) => /ask_slow ended after .* cancelled=True/.test(l)), 5000, 'Python saw the cancel');
      await waitFor(() => pool.stats().inFlight === 0, 5000, 'slots freed');
      const controller = new AbortController();
      const aborted = rejection(pool.execute('ask_slow', {}, { signal: controller.signal }));
      await waitFor(() => signal !== undefined && !signal.aborted, 2000);
      await waitFor(() => lines.filter((l) => /ask_slow ended/.test(l)).length === 1, 10);
      controller.abort();
      assert.equal((await aborted).code, 'ABORTED');
      await waitFor(() => lines.filter((l) => /ask_slow ended .* cancelled=True/.test(l)).length === 2, 5000);
      assert.equal(pool.stats().crashes, 0, 'the worker was reused, never killed');
    });
  });
});
