import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CallTimeoutError, WorkerCrashedError, PythonError } from '../src/index.js';
import { fixture, rejection, waitFor, withPool } from './helpers.js';

const streams = { adapter: fixture('stream_tools.py') };

describe('streams', () => {
  it('yields every chunk in order, sync and async generators', async () => {
    await withPool(streams, async (pool) => {
      const got: number[] = [];
      for await (const n of pool.stream<number>('count', { n: 100 })) got.push(n);
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i));
    });
    await withPool({}, async (pool) => {
      const got: number[] = [];
      for await (const n of pool.stream<number>('acount', { n: 50 })) got.push(n);
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
    });
  });

  it('works with Readable.from and collects into an array with execute({ collect })', async () => {
    await withPool(streams, async (pool) => {
      const readable = Readable.from(pool.stream('count', { n: 5 }));
      const got: unknown[] = [];
      for await (const x of readable) got.push(x);
      assert.deepEqual(got, [0, 1, 2, 3, 4]);
      assert.deepEqual(await pool.execute('count', { n: 3 }, { collect: true }), [0, 1, 2]);
    });
  });

  it('a slow consumer keeps the worker within the credit window (R17)', async () => {
    await withPool(streams, async (pool) => {
      const window = 4;
      const stream = pool.stream<number>('count', { n: 40 }, { window });
      const got: number[] = [];
      for await (const n of stream) {
        got.push(n);
        if (n % 10 === 0) {
          await new Promise((r) => setTimeout(r, 100));
          // The generator ran at most `window` items ahead of what was taken.
          // The host-side buffer never holds more than the window.
          assert.ok(stream.buffered <= window, `buffered ${stream.buffered} > window ${window}`);
        }
      }
      assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => i));
      assert.ok(stream.peakBuffered <= window, `peak ${stream.peakBuffered}`);
    });
  });

  it('the worker produces at most `window` chunks beyond what the consumer took', async () => {
    await withPool({ ...streams, concurrency: 2 }, async (pool) => {
      const window = 3;
      const stream = pool.stream<number>('count', { n: 1000 }, { window });
      const first = await stream.next();
      assert.equal(first.value, 0);
      await new Promise((r) => setTimeout(r, 200));
      // With concurrency 2 the worker can answer while the generator is parked waiting for credit.
      const produced = await pool.execute<number>('produced');
      assert.ok(produced <= 1 + window, `generator produced ${produced} items with 1 taken and window ${window}`);
      stream.cancel();
    });
  });

  it('breaking out of the loop closes the generator (finally runs) and the worker is reused (R18)', async () => {
    for (const tool of ['endless', 'aendless']) {
      await withPool(streams, async (pool) => {
        const lines: string[] = [];
        pool.on('log', (e) => lines.push(e.line));
        const pid = pool.stats().workerList[0]!.pid;
        let seen = 0;
        for await (const _ of pool.stream(tool)) {
          if (++seen === 5) break;
        }
        await waitFor(() => lines.some((l) => l.includes(`${tool} finally`)), 5000, `${tool} finally`);
        await waitFor(() => pool.stats().inFlight === 0, 5000, 'slot freed');
        assert.deepEqual(await pool.execute('count', { n: 2 }, { collect: true }), [0, 1]);
        assert.equal(pool.stats().workerList[0]!.pid, pid, 'same worker');
      });
    }
  });

  it('cancel() and abort stop the stream', async () => {
    await withPool(streams, async (pool) => {
      const stream = pool.stream('endless');
      await stream.next();
      stream.cancel();
      assert.deepEqual(await stream.next(), { value: undefined, done: true });
      const ctl = new AbortController();
      const aborted = pool.stream('endless', {}, { signal: ctl.signal });
      await aborted.next();
      ctl.abort();
      let err: unknown;
      try {
        for await (const _ of aborted) {
          /* buffered chunks may still arrive before the error */
        }
      } catch (e) {
        err = e;
      }
      assert.equal((err as { code?: string }).code, 'ABORTED');
      await waitFor(() => pool.stats().inFlight === 0, 5000, 'slot freed');
    });
  });

  it('an exception in the generator arrives after the chunks yielded before it', async () => {
    await withPool(streams, async (pool) => {
      const got: number[] = [];
      const err = await rejection(
        (async () => {
          for await (const n of pool.stream<number>('count', { n: 10, fail_at: 4 })) got.push(n);
        })(),
      );
      assert.deepEqual(got, [0, 1, 2, 3]);
      assert.ok(err instanceof PythonError);
      assert.match(err.message, /failed at 4/);
    });
  });

  it('a worker killed mid-stream ends the iteration with WORKER_CRASHED, never a clean end (R19)', async () => {
    await withPool(streams, async (pool) => {
      const got: number[] = [];
      const err = await rejection(
        (async () => {
          for await (const n of pool.stream<number>('die_after', { n: 3 })) got.push(n);
        })(),
      );
      assert.deepEqual(got, [0, 1, 2]);
      assert.ok(err instanceof WorkerCrashedError);
    });
  });

  it('timeout and idleTimeout end a stream with TIMEOUT', async () => {
    await withPool(streams, async (pool) => {
      const idle = await rejection(
        (async () => {
          for await (const _ of pool.stream('slow', { n: 5, delay: 1 }, { idleTimeout: 100 })) {
            /* nothing arrives within 100 ms */
          }
        })(),
      );
      assert.ok(idle instanceof CallTimeoutError);
      assert.equal(idle.idle, true);
      assert.match(idle.message, /stream of slow sent no chunk for 100 ms \(idleTimeout\)/);
      // The sleeping generator sees the cancel when it next yields; only then is the slot free.
      await waitFor(() => pool.stats().inFlight === 0, 5000, 'slot freed');
      const total = await rejection(
        (async () => {
          for await (const _ of pool.stream('slow', { n: 50, delay: 0.02 }, { timeout: 200 })) {
            /* chunks arrive but the whole stream takes too long */
          }
        })(),
      );
      assert.ok(total instanceof CallTimeoutError);
      assert.equal(total.idle, false);
      assert.match(total.message, /call to slow timed out after 200 ms/);
    });
  });

  it('the stream object offers iteration and cancel only, not the producer side', async () => {
    await withPool(streams, async (pool) => {
      const stream = pool.stream('count', { n: 2 });
      for (const internal of ['chunk', 'fail', 'attach', 'end', 'value']) {
        assert.equal((stream as unknown as Record<string, unknown>)[internal], undefined, internal);
      }
      const got: unknown[] = [];
      for await (const v of stream) got.push(v);
      assert.equal(got.length, 2);
    });
  });

  it('a chunk reaches the consumer while the generator blocks after yielding it', async () => {
    // The generator yields, then blocks until a file exists; the consumer creates the file only once it
    // has the chunk. A chunk held back until the generator resumes would never let it resume. No
    // heartbeats: their answers would carry the chunk out too.
    const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-stream-'));
    try {
      await withPool({ ...streams, heartbeatInterval: 0 }, async (pool) => {
        for (const tool of ['yield_then_block', 'ayield_then_wait', 'ayield_then_block']) {
          const file = path.join(dir, tool);
          const got: string[] = [];
          for await (const chunk of pool.stream<string>(tool, { path: file })) {
            got.push(chunk);
            if (chunk === 'first') writeFileSync(file, '');
          }
          assert.deepEqual(got, ['first', 'second'], tool);
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('streams work with the JSON codec', async () => {
    await withPool({ ...streams, codec: 'json' }, async (pool) => {
      assert.deepEqual(await pool.execute('count', { n: 4 }, { collect: true }), [0, 1, 2, 3]);
    });
  });
});
