import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkLogsOption, formatRecord } from '../src/telemetry/logs.js';
import { Buckets, BUCKETS, PoolMetrics } from '../src/telemetry/metrics.js';
import { formatTraceparent, parseTraceparent } from '../src/telemetry/otel.js';
import { Series } from '../src/telemetry/series.js';
import type { PoolStats } from '../src/index.js';

describe('telemetry units', () => {
  it('formats records with the worker prefix, level, logger and an indented exception', () => {
    const base = { type: 'log' as const, workerId: 3, pid: 77, requestId: 9 };
    assert.equal(formatRecord({ ...base, stream: 'stdout', line: 'hi', level: 'info' }), '[python worker 3 pid 77] hi\n');
    assert.equal(
      formatRecord({ ...base, stream: 'worker', line: 'boom', level: 'error', logger: 'app', exception: 'Traceback\nKeyError' }),
      '[python worker 3 pid 77] ERROR app: boom\n[python worker 3 pid 77]   Traceback\n[python worker 3 pid 77]   KeyError\n',
    );
    assert.equal(formatRecord({ ...base, pid: undefined, stream: 'worker', line: 'x', level: 'warning' }), '[python worker 3 pid ?] WARNING: x\n');
  });

  it('accepts the three kinds of logs option and names a wrong one', () => {
    assert.equal(checkLogsOption(undefined), 'inherit');
    assert.equal(checkLogsOption('events'), 'events');
    const fn = (): void => {};
    assert.equal(checkLogsOption(fn), fn);
    assert.throws(() => checkLogsOption(42), { code: 'INVALID_OPTIONS', message: /options\.logs .* got number/ });
  });

  it('writes and reads W3C traceparent, refusing invalid ones', () => {
    const ctx = { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceFlags: 1 };
    const text = formatTraceparent(ctx);
    assert.equal(text, `00-${ctx.traceId}-${ctx.spanId}-01`);
    assert.deepEqual(parseTraceparent(text), ctx);
    for (const bad of [undefined, 7, '', 'ff-' + text.slice(3), `00-${'0'.repeat(32)}-${ctx.spanId}-01`, `00-${ctx.traceId}-${'0'.repeat(16)}-01`, text + '-x']) {
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    }
  });

  it('counts durations into cumulative Prometheus buckets and escapes labels', () => {
    const b = new Buckets();
    for (const s of [0.0001, 0.0007, 0.002, 100]) b.record(s);
    assert.deepEqual([...b.counts].slice(0, 3), [1, 1, 1]);
    assert.equal(b.counts[BUCKETS.length], 1); // +Inf only
    const stats = {
      inFlight: 0, queued: 0, restarts: 0, recycles: 0, crashes: 0,
      workers: { starting: 0, ready: 1, busy: 0, stopping: 0, retiring: 0 },
    } as unknown as PoolStats;
    const m = new PoolMetrics({ stats: () => stats, bytes: () => ({ sent: 1, received: 2 }) });
    m.called('we"ird\\tool', 'ok', 1, 2);
    m.called('we"ird\\tool', 'ok', 1, undefined);
    const text = m.text();
    assert.match(text, /^snakepit_calls_total\{tool="we\\"ird\\\\tool",outcome="ok"\} 2$/m);
    assert.match(text, /^snakepit_call_queue_wait_seconds_count 2$/m);
    assert.match(text, /^snakepit_call_run_seconds_count 1$/m);
    assert.match(text, /^snakepit_call_run_seconds_bucket\{le="0.0025"\} 1$/m);
  });

  it('keeps per-second figures with the second under way last', () => {
    const s = new Series(5);
    s.record(true, 2);
    s.record(false, 4);
    const history = s.history();
    // Normally both are in the second under way (the last entry); a second may have closed meanwhile.
    assert.equal(history.reduce((n, x) => n + x.calls, 0), 2);
    assert.equal(history.reduce((n, x) => n + x.errors, 0), 1);
    assert.ok(history.length <= 6);
    assert.equal(Math.max(...history.map((x) => x.p99)), 4);
  });
});
