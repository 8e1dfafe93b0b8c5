import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { CHANNEL_NAMES, type PoolEvent } from '../src/index.js';
import { fixture, rejection, startPool, waitFor } from './helpers.js';

describe('events', () => {
  it('publishes worker and pool events on diagnostics channels', async () => {
    const seen: PoolEvent[] = [];
    const listener = (message: unknown) => seen.push(message as PoolEvent);
    const names = Object.values(CHANNEL_NAMES);
    for (const name of names) diagnostics_channel.subscribe(name, listener);
    try {
      const pool = await startPool({ adapter: fixture('misbehave.py') });
      await pool.execute('chatty', { n: 1 });
      await rejection(pool.execute('exit_now', { code: 4 }));
      await waitFor(() => seen.filter((e) => e.type === 'workerReady').length === 2, 10000, 'replacement ready');
      await pool.close();
    } finally {
      for (const name of names) diagnostics_channel.unsubscribe(name, listener);
    }
    const types = seen.map((e) => e.type);
    for (const t of ['workerSpawn', 'workerReady', 'workerExit', 'log', 'poolState']) assert.ok(types.includes(t as never), t);
    const crash = seen.find((e) => e.type === 'workerExit' && e.reason === 'crash');
    assert.ok(crash && crash.type === 'workerExit' && crash.code === 4);
    const logs = seen.filter((e) => e.type === 'log');
    assert.ok(logs.some((e) => e.type === 'log' && e.stream === 'stdout' && e.line === 'stdout line 0'));
    assert.ok(logs.some((e) => e.type === 'log' && e.stream === 'stderr' && e.line === 'stderr line 0'));
    const states = seen.filter((e) => e.type === 'poolState').map((e) => (e.type === 'poolState' ? e.to : ''));
    // The crash leaves the pool degraded until the replacement is ready.
    assert.deepEqual(states, ['ready', 'degraded', 'ready', 'draining', 'closed']);
  });

  it('ctx.log lines reach the host tagged with the request id', async () => {
    const pool = await startPool({ adapter: fixture('logging_tools.py') });
    try {
      const logs: { line: string; level: string; requestId: number | undefined; stream: string }[] = [];
      pool.on('log', (e) => logs.push(e));
      await pool.execute('log_twice', { message: 'hi' });
      await waitFor(() => logs.length >= 2, 5000, 'two log lines');
      assert.deepEqual(logs.map((l) => [l.stream, l.level, l.line]), [
        ['worker', 'info', 'hi'],
        ['worker', 'warning', 'careful: hi'],
      ]);
      assert.ok(typeof logs[0]!.requestId === 'number');
    } finally {
      await pool.destroy();
    }
  });
});
