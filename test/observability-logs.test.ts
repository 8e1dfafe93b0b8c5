import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pool, type LogEvent } from '../src/index.js';
import { fixture, PYTHON, rejection, startPool, waitFor } from './helpers.js';

describe('logs', () => {
  it("'inherit' (the default) prints worker output on the host's stderr with a prefix, import and setup() included", async () => {
    const written: string[] = [];
    const original = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let pool: Pool | undefined;
    try {
      pool = await Pool.start({ python: PYTHON, size: 1, adapter: fixture('observed.py') });
      await pool.execute('logs', { message: 'hi' });
      await waitFor(() => written.join('').includes('to stderr: hi'), 5000, 'the tool output');
    } finally {
      process.stderr.write = original;
      await pool?.destroy();
    }
    const text = written.join('');
    const pid = pool.stats().workerList[0]?.pid ?? /\[python worker 1 pid (\d+)\]/.exec(text)?.[1];
    assert.ok(pid !== undefined);
    const prefix = `[python worker 1 pid ${pid}]`;
    assert.ok(text.includes(`${prefix} import-time print\n`), text);
    assert.ok(text.includes(`${prefix} setup print\n`), text);
    assert.ok(text.includes(`${prefix} INFO observed: setup log\n`), text);
    assert.ok(text.includes(`${prefix} WARNING observed.tool: warned: hi\n`), text);
    assert.ok(text.includes(`${prefix} printed: hi\n`), text);
    assert.match(text, /ERROR observed: caught it\n.*Traceback[^]*KeyError: 'hi'/);
  });

  it('a logs function receives structured records with levels, loggers, exceptions and request ids', async () => {
    const records: LogEvent[] = [];
    const pool = await startPool({ adapter: fixture('observed.py'), logs: (r) => records.push(r) });
    try {
      await waitFor(() => records.some((r) => r.line === 'setup log'), 5000, 'setup records');
      await pool.execute('work', { n: 1 });
      await pool.execute('logs', { message: 'hello' });
      await waitFor(() => records.some((r) => r.line === 'to stderr: hello'), 5000, 'tool records');
    } finally {
      await pool.destroy();
    }
    const find = (line: string): LogEvent => {
      const r = records.find((x) => x.line === line);
      assert.ok(r, `no record ${line}: ${JSON.stringify(records.map((x) => x.line))}`);
      return r;
    };
    // Import and setup() output: nothing lost, no request id.
    assert.equal(find('import-time print').stream, 'stdout');
    assert.equal(find('setup print').stream, 'stdout');
    const setupLog = find('setup log');
    assert.deepEqual([setupLog.stream, setupLog.level, setupLog.logger, setupLog.requestId], ['worker', 'info', 'observed', undefined]);
    // Inside the call: every record carries the call's request id.
    const warned = find('warned: hello');
    assert.deepEqual([warned.level, warned.logger], ['warning', 'observed.tool']);
    assert.equal(typeof warned.requestId, 'number');
    const caught = find('caught it');
    assert.equal(caught.level, 'error');
    assert.match(caught.exception ?? '', /Traceback[^]*KeyError: 'hello'/);
    const printed = find('printed: hello');
    assert.deepEqual([printed.stream, printed.level], ['stdout', 'info']);
    const stderr = find('to stderr: hello');
    assert.deepEqual([stderr.stream, stderr.level], ['stderr', 'stderr']);
    for (const r of [caught, printed, stderr]) assert.equal(r.requestId, warned.requestId);
  });

  it('output of import and setup() arrives even when setup() fails and the worker exits', async () => {
    const records: LogEvent[] = [];
    const err = await rejection(startPool({ adapter: fixture('setup_prints_then_fails.py'), logs: (r) => records.push(r) }));
    assert.equal(err.code, 'WORKER_START_FAILED');
    assert.match(err.message, /RuntimeError: setup cannot finish/);
    const lines = records.map((r) => `${r.stream}:${r.level}:${r.line}`);
    assert.ok(lines.includes('stdout:info:imported, about to set up'), lines.join('\n'));
    assert.ok(lines.includes('stdout:info:setting up'), lines.join('\n'));
    assert.ok(lines.includes('worker:warning:giving up'), lines.join('\n'));
  });

  it("'events' prints nothing and still publishes log events", async () => {
    const events: LogEvent[] = [];
    const pool = await startPool({ adapter: fixture('observed.py'), logs: 'events' });
    try {
      pool.on('log', (e) => events.push(e));
      await pool.execute('logs', { message: 'quiet' });
      await waitFor(() => events.some((e) => e.line === 'printed: quiet'), 5000, 'log event');
    } finally {
      await pool.destroy();
    }
  });

  it('rejects a logs option of the wrong kind', async () => {
    const err = await rejection(startPool({ logs: 'loud' as never }));
    assert.equal(err.code, 'INVALID_OPTIONS');
    assert.match(err.message, /options\.logs must be "inherit", "events" or a function, got "loud"/);
  });

  it('a flood of 100 MB of output keeps host memory bounded', async () => {
    let bytes = 0;
    let lines = 0;
    const pool = await startPool({ adapter: fixture('observed.py'), logs: (r) => {
        if (r.line.startsWith('xxx')) ((bytes += r.line.length), lines++);
      }, timeout: 120_000 });
    try {
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      try {
        // 50 MB inside a call (log frames), 50 MB from a thread outside any call (the stdout pipe).
        assert.equal(await pool.execute('flood', { megabytes: 50, inside: true }), 50 * 1024);
        assert.equal(await pool.execute('flood', { megabytes: 50, inside: false }), 50 * 1024);
        await waitFor(() => lines >= 100 * 1024, 30_000, 'every line');
      } finally {
        clearInterval(sampler);
      }
      assert.equal(bytes, 100 * 1024 * 1023);
      const growth = peak - before;
      assert.ok(growth < 80 * 1024 * 1024, `host RSS grew by ${Math.round(growth / 1048576)} MB while 100 MB went through`);
    } finally {
      await pool.destroy();
    }
  });
});
