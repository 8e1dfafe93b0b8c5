import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import {
  CHANNEL_NAMES,
  PoolFailedError,
  WorkerCrashedError,
  type Pool,
  type PoolEvent,
  type PoolOptions,
  type PoolStateEvent,
  type WorkerRestartEvent,
} from '../src/index.js';
import { ControlDir, running } from './control.js';
import { fixture, rejection, startPool, waitFor } from './helpers.js';

const FAST_RESTART = { backoffInitial: 50, backoffMax: 400, jitter: 0, maxFailures: 4, window: 30_000, stableAfter: 600 };

function chaosOptions(ctl: ControlDir, extra: Partial<PoolOptions> = {}): Partial<PoolOptions> {
  return { adapter: fixture('chaos.py'), env: { CHAOS_DIR: ctl.path }, restart: FAST_RESTART, ...extra };
}

async function withChaos<T>(extra: Partial<PoolOptions>, fn: (pool: Pool, ctl: ControlDir) => Promise<T>): Promise<T> {
  const ctl = new ControlDir();
  const pool = await startPool(chaosOptions(ctl, extra));
  try {
    return await fn(pool, ctl);
  } finally {
    await pool.destroy();
    ctl.dispose();
  }
}

const pids = (pool: Pool): number[] => pool.stats().workerList.map((w) => w.pid!);

describe('supervision: restarts', () => {
  it('replaces a killed worker at once, reports degraded then ready, and a restart event', async () => {
    await withChaos({ size: 2 }, async (pool) => {
      const states: PoolStateEvent[] = [];
      const restarts: WorkerRestartEvent[] = [];
      pool.on('poolState', (e) => states.push(e));
      pool.on('workerRestart', (e) => restarts.push(e));
      const [victim] = pids(pool);
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => restarts.length === 1 && pool.state === 'ready', 15_000, 'restart');
      assert.deepEqual(states.map((s) => s.to), ['degraded', 'ready']);
      assert.equal(restarts[0]!.attempt, 1);
      assert.equal(restarts[0]!.delayMs, 0, 'the first restart of a slot is immediate');
      assert.ok(restarts[0]!.downtimeMs >= 0);
      assert.ok(!pids(pool).includes(victim!));
      assert.equal(pool.stats().restarts, 1);
      assert.equal(pool.stats().crashes, 1);
    });
  });

  it('a call queued while the only worker restarts runs on the replacement', async () => {
    await withChaos({ size: 1 }, async (pool) => {
      const [victim] = pids(pool);
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => pool.state === 'degraded', 10_000, 'degraded');
      const result = await pool.execute<{ pid: number }>('work', { token: 'q' });
      assert.notEqual(result.pid, victim);
    });
  });

  it('backs off failed starts, opens the breaker, rejects fast with POOL_FAILED, and recovers (R6, R7)', async () => {
    await withChaos({ size: 2 }, async (pool, ctl) => {
      const spawns: number[] = [];
      const states: PoolStateEvent[] = [];
      pool.on('workerSpawn', () => spawns.push(performance.now()));
      pool.on('poolState', (e) => states.push(e));
      ctl.set('fail_setup');
      const before = pids(pool);
      // A call queued while no worker can start is rejected when the breaker opens: it never hangs.
      let exits = 0;
      pool.on('workerExit', () => exits++);
      for (const pid of before) process.kill(pid, 'SIGKILL');
      // Both killed workers have exited (degraded alone comes with the first exit, and a call sent then
      // could still reach the second, dying worker).
      await waitFor(() => pool.state === 'degraded' && exits >= before.length, 10_000, 'degraded');
      const queued = rejection(pool.execute('work', { token: 'never' }, { timeout: 60_000 }));
      await waitFor(() => pool.state === 'failed', 30_000, 'breaker open');
      const err = await queued;
      assert.ok(err instanceof PoolFailedError, String(err));
      assert.equal(err.retryable, true);
      assert.match(err.message, /options\.restart\.maxFailures/);
      const fast = await rejection(pool.execute('work', {}));
      assert.equal(fast.code, 'POOL_FAILED');
      assert.equal(pool.stats().breakerTrips, 1);
      assert.equal(ctl.executions().get('never'), undefined, 'the rejected call never ran');
      // Respawns are bounded: within a second, at most one probe per slot at backoffMax pace.
      const count = spawns.length;
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(spawns.length - count <= 2 * 3, `too many respawns while failed: ${spawns.length - count}`);
      ctl.clear('fail_setup');
      await waitFor(() => pool.state === 'ready', 30_000, 'recovery');
      assert.equal(states.at(-1)!.reason, 'recovered');
      const ok = await pool.execute<{ token: string }>('work', { token: 'after' });
      assert.equal(ok.token, 'after');
    });
  });
});

describe('supervision: heartbeats (R12)', () => {
  it('a stopped worker misses heartbeats, is killed as wedged and replaced; its call fails typed', async () => {
    await withChaos({ size: 1, heartbeatInterval: 100, heartbeatTimeout: 800, killGrace: 500 }, async (pool) => {
      const [victim] = pids(pool);
      const call = rejection(pool.execute('hang', { seconds: 60 }));
      await waitFor(() => pool.stats().inFlight === 1, 5_000, 'call running');
      process.kill(victim!, 'SIGSTOP');
      const err = await call;
      assert.ok(err instanceof WorkerCrashedError, String(err));
      assert.match(err.message, /heartbeat.*wedged/);
      await waitFor(() => !running(victim!), 10_000, 'wedged worker gone');
      await waitFor(() => pool.state === 'ready', 15_000, 'replacement');
      assert.equal(pool.stats().wedged, 1);
      const r = await pool.execute<{ pid: number }>('work', { token: 'x' });
      assert.notEqual(r.pid, victim);
    });
  });

  it('a long CPU-bound call that still answers pings is not wedged', async () => {
    await withChaos({ size: 1, heartbeatInterval: 50, heartbeatTimeout: 1_500 }, async (pool) => {
      const [pid] = pids(pool);
      const n = await pool.execute<number>('spin', { seconds: 3 }); // twice the heartbeat timeout
      assert.ok(n > 0);
      assert.equal(pool.stats().wedged, 0);
      assert.deepEqual(pids(pool), [pid]);
      assert.ok(pool.stats().workerList[0]!.heartbeatRtt !== undefined, 'pings were answered');
    });
  });

  it('heartbeatInterval 0 turns heartbeats off', async () => {
    await withChaos({ size: 1, heartbeatInterval: 0 }, async (pool) => {
      await pool.execute('work', {});
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.stats().workerList[0]!.heartbeatRtt, undefined);
    });
  });
});

describe('supervision: events', () => {
  let ctl: ControlDir;
  let pool: Pool;
  before(async () => {
    ctl = new ControlDir();
    pool = await startPool(chaosOptions(ctl, { size: 1 }));
  });
  after(async () => {
    await pool.destroy();
    ctl.dispose();
  });

  it('pool.events() yields typed lifecycle events and ends when the pool closes', async () => {
    const local = await startPool(chaosOptions(ctl, { size: 1 }));
    const seen: PoolEvent['type'][] = [];
    const reading = (async () => {
      for await (const e of local.events()) seen.push(e.type as PoolEvent['type']);
    })();
    const [victim] = pids(local);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => seen.includes('workerRestart'), 15_000, 'restart event');
    await local.close();
    await reading; // ends by itself
    for (const type of ['workerExit', 'poolState', 'workerSpawn', 'workerReady', 'workerRestart'] as const) {
      assert.ok(seen.includes(type), `missing ${type} in ${seen.join(',')}`);
    }
    assert.equal(seen.at(-1), 'poolState');
    assert.equal(local.listenerCount('workerExit'), 0, 'listeners removed');
  });

  it('a slow reader loses the oldest events and is told how many', async () => {
    const it = pool.events({ types: ['log'], bufferSize: 3 });
    await pool.execute('garbage_stdout', { n: 10 });
    await waitFor(() => it.buffered === 3, 5_000, 'buffer full');
    const first = await it.next();
    assert.equal(first.value!.type, 'eventsDropped');
    assert.ok((first.value as { dropped: number }).dropped > 0);
    const second = await it.next();
    assert.equal(second.value!.type, 'log');
    await it.return();
    assert.equal(pool.listenerCount('log'), 0);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  it('publishes restart and recycle events on diagnostics channels', async () => {
    const got: string[] = [];
    const onRestart = (m: unknown) => got.push((m as PoolEvent).type);
    const onRecycle = (m: unknown) => got.push((m as PoolEvent).type);
    diagnostics_channel.subscribe(CHANNEL_NAMES.workerRestart, onRestart);
    diagnostics_channel.subscribe(CHANNEL_NAMES.workerRecycle, onRecycle);
    try {
      await pool.recycle(pool.stats().workerList[0]!.id);
      const [victim] = pids(pool);
      await waitFor(() => pool.state === 'ready', 10_000, 'ready');
      process.kill(victim!, 'SIGKILL');
      await waitFor(() => got.includes('workerRestart'), 15_000, 'restart published');
      assert.ok(got.includes('workerRecycle'));
    } finally {
      diagnostics_channel.unsubscribe(CHANNEL_NAMES.workerRestart, onRestart);
      diagnostics_channel.unsubscribe(CHANNEL_NAMES.workerRecycle, onRecycle);
    }
  });

  it('events() on a closed pool ends at once', async () => {
    const local = await startPool(chaosOptions(ctl, { size: 1 }));
    await local.close();
    assert.deepEqual(await local.events().next(), { value: undefined, done: true });
  });
});

describe('supervision: start', () => {
  it('a worker that dies while the others still start is replaced once the pool is ready', async () => {
    const ctl = new ControlDir();
    let pool: Pool | undefined;
    let first: number | undefined;
    const onReady = (m: unknown): void => {
      const e = m as { pid: number };
      if (first !== undefined) return;
      first = e.pid;
      process.kill(e.pid, 'SIGKILL'); // the second worker is still in its slow setup
    };
    diagnostics_channel.subscribe(CHANNEL_NAMES.workerReady, onReady);
    try {
      pool = await startPool({
        ...chaosOptions(ctl, { size: 2, startupConcurrency: 1 }),
        env: { CHAOS_DIR: ctl.path, CHAOS_SETUP_SLEEP: '0.5' },
      });
      diagnostics_channel.unsubscribe(CHANNEL_NAMES.workerReady, onReady);
      assert.ok(first !== undefined);
      await waitFor(() => pool!.state === 'ready' && pool!.stats().workers.ready === 2, 15_000, 'slot refilled');
      assert.ok(!pids(pool).includes(first!));
      assert.equal(pool.stats().restarts, 1);
    } finally {
      diagnostics_channel.unsubscribe(CHANNEL_NAMES.workerReady, onReady);
      await pool?.destroy();
      ctl.dispose();
    }
  });
});

describe('supervision: stopping workers', () => {
  it('destroy escalates to SIGKILL for a worker that ignores SIGTERM, and waits for the real exit', async () => {
    const ctl = new ControlDir();
    const pool = await startPool(chaosOptions(ctl, { size: 1, killGrace: 300 }));
    try {
      const pid = await pool.execute<number>('ignore_sigterm');
      const exits: (string | null)[] = [];
      pool.on('workerExit', (e) => exits.push(e.signal));
      await pool.destroy();
      assert.equal(running(pid), false, 'the process is gone when destroy resolves');
      assert.deepEqual(exits, ['SIGKILL']);
    } finally {
      ctl.dispose();
    }
  });
});
