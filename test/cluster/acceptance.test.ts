/**
 * The core acceptance scenarios, run through the shared `PoolLike` interface against a local pool
 * (`Pool.start`) and a remote one (`Pool.connect` to an agent process on a real nats-server).
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Pool, SnakepitError, type PoolLike } from '../../src/index.js';
import { PYTHON } from '../helpers.js';
import { AgentProcess, CLUSTER_FIXTURE, NatsServer } from './harness.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SnakepitError, `untyped error: ${String(err)}`);
    return err.code;
  }
  return 'ok';
}

function scenarios(name: string, open: () => Promise<PoolLike>, close: (p: PoolLike) => Promise<void>): void {
  describe(name, () => {
    let pool: PoolLike;
    before(async () => {
      pool = await open();
      pool.registerTool('lookup', ({ key }) => {
        if (key === 'bad') throw new TypeError('no such key');
        return { key, from: 'host' };
      });
    });
    after(() => close(pool));

    test('calls return values; the catalogue lists the tools', async () => {
      assert.equal(await pool.execute('add', { a: 2, b: 3 }), 5);
      assert.deepEqual(await pool.execute('echo', { value: { a: [1, 'x', null], t: true } }), { a: [1, 'x', null], t: true });
      assert.ok(pool.tools().some((t) => t.name === 'count' && t.stream));
    });

    test('errors arrive typed with their fields', async () => {
      const err = await pool.execute('boom', { message: 'bad input' }).catch((e: unknown) => e);
      assert.ok(err instanceof SnakepitError);
      assert.equal(err.code, 'PYTHON_ERROR');
      assert.equal((err as unknown as { pythonType: string }).pythonType, 'ValueError');
      assert.match((err as unknown as { traceback: string }).traceback, /bad input/);
      assert.equal(err.constructor.name, 'PythonError');
      assert.equal(await code(pool.execute('nope')), 'TOOL_NOT_FOUND');
      assert.equal(await code(pool.execute('add', { a: 1 })), 'INVALID_ARGUMENTS');
      assert.equal(await code(pool.execute('count', { n: 2 })), 'NOT_STREAMING');
      assert.equal(await code(pool.execute('add', { a: 1, b: 2 }, { timeout: -1 })), 'INVALID_OPTIONS');
    });

    test('deadlines: TIMEOUT at the deadline, and Python sees the cancel', async () => {
      const t0 = performance.now();
      assert.equal(await code(pool.execute('sleep', { seconds: 10 }, { timeout: 300 })), 'TIMEOUT');
      const took = performance.now() - t0;
      assert.ok(took >= 290 && took < 3000, `timed out after ${took} ms`);
      // The worker was freed by the cancel (not killed after a grace): the next call runs at once.
      assert.equal(await pool.execute('add', { a: 1, b: 1 }, { timeout: 5000 }), 2);
    });

    test('cancellation with an AbortSignal, before and during the call', async () => {
      assert.equal(await code(pool.execute('add', { a: 1, b: 1 }, { signal: AbortSignal.abort() })), 'ABORTED');
      const ac = new AbortController();
      const p = pool.execute('sleep', { seconds: 10 }, { signal: ac.signal });
      setTimeout(() => ac.abort(), 150);
      assert.equal(await code(p), 'ABORTED');
      assert.equal(await pool.execute('add', { a: 2, b: 2 }, { timeout: 5000 }), 4);
    });

    test('streams deliver every chunk in order within the credit window; leaving early stops them', async () => {
      const got: number[] = [];
      const stream = pool.stream<number>('count', { n: 200 }, { window: 4 });
      for await (const n of stream) {
        got.push(n);
        assert.ok(stream.buffered <= 4, `buffered ${stream.buffered} > window`);
        if (n % 50 === 0) await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
      let seen = 0;
      for await (const n of pool.stream<number>('count', { n: 1_000_000, delay: 0.001 })) {
        seen = n;
        if (n === 3) break;
      }
      assert.equal(seen, 3);
      assert.equal(await pool.execute('add', { a: 3, b: 3 }, { timeout: 5000 }), 6);
      assert.deepEqual(await pool.execute('count', { n: 3 }, { collect: true }), [0, 1, 2]);
    });

    test('sessions keep state on one worker; a closed session refuses calls', async () => {
      const s = pool.session();
      const first = (await s.execute('incr')) as { n: number; pid: number };
      const second = (await s.execute('incr')) as { n: number; pid: number };
      assert.equal(first.n, 1);
      assert.equal(second.n, 2);
      assert.equal(second.pid, first.pid);
      const chunks: number[] = [];
      for await (const c of s.stream<number>('count', { n: 3 })) chunks.push(c);
      assert.deepEqual(chunks, [0, 1, 2]);
      await s.close();
      assert.equal(s.state, 'closed');
      assert.equal(await code(s.execute('incr')), 'SESSION_CLOSED');
      const other = pool.session();
      assert.equal(((await other.execute('incr')) as { n: number }).n, 1);
      await other.close();
    });

    test('host tools: Python calls back into the host', async () => {
      assert.deepEqual(await pool.execute('ask_host', { key: 'k1' }), { key: 'k1', from: 'host' });
      const err = await pool.execute('ask_host', { key: 'bad' }).catch((e: unknown) => e);
      assert.equal((err as SnakepitError).code, 'PYTHON_ERROR');
      assert.match((err as Error).message, /HostToolError.*no such key/);
    });

    test('bulk data: megabytes of bytes both ways, unchanged', async () => {
      const data = Buffer.alloc(3 * 1024 * 1024 + 17);
      for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
      assert.equal(await pool.execute('nbytes', { data }), data.length);
      const back = (await pool.execute('echo', { value: data })) as Uint8Array;
      assert.equal(back.length, data.length);
      assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(data));
      const made = (await pool.execute('make_bytes', { n: 2_500_000 })) as Uint8Array;
      assert.equal(made.length, 2_500_000);
    });

    test('allowlisted python.call is denied by default', async () => {
      assert.equal(await code(pool.python.call('os.getcwd')), 'PERMISSION_DENIED');
    });

    test('stats count calls', () => {
      const s = pool.stats();
      assert.ok(s.succeeded > 10);
      assert.ok((s.failedByCode.TIMEOUT ?? 0) >= 1);
    });
  });
}

scenarios(
  'local pool (Pool.start)',
  () => Pool.start({ adapter: CLUSTER_FIXTURE, python: PYTHON, size: 2 }),
  (p) => p.destroy(),
);

let server: NatsServer;
let agent: AgentProcess;
scenarios(
  'remote pool (Pool.connect)',
  async () => {
    server = await new NatsServer().start();
    agent = await new AgentProcess({ url: server.url, pool: 'accept', id: 'acc1', size: 2 }).start();
    return Pool.connect({ nats: { servers: server.url }, pool: 'accept' });
  },
  async (p) => {
    await p.close();
    await agent.kill('SIGTERM');
    await server.dispose();
  },
);
