/**
 * Fork-server mode (startMethod 'forkserver'): forked workers, preload, setupInZygote, thread
 * detection, zygote crash and recovery, the lifeline of forked workers, and memory counted per
 * worker. The core scenarios (calls, errors, deadlines, streams, sessions, crashes) run in this
 * mode through `make test-forkserver` (the core test files with SNAKEPIT_TEST_START_METHOD).
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import {
  InvalidOptionsError,
  Pool,
  WorkerStartError,
  type PoolOptions,
  type SessionLostError,
  type WorkerRecycleEvent,
  type ZygoteExitEvent,
  type ZygoteReadyEvent,
} from '../src/index.js';
import { resolvePoolOptions } from '../src/options.js';
import { forkServerTransport } from '../src/pool/fork-server.js';
import { HostProcess, ControlDir, untilEmpty, running } from './control.js';
import { FIXTURES, PYTHON, fixture, rejection, waitFor } from './helpers.js';

type Where = { pid: number; ppid: number; pgid: number; sid: number; setup_pid: number };

const FAST_RESTART = { backoffInitial: 50, backoffMax: 400, jitter: 0, maxFailures: 4, window: 30_000, stableAfter: 600 };

function forkPool(extra: Partial<PoolOptions> = {}): Promise<Pool> {
  return Pool.start({
    python: PYTHON,
    adapter: fixture('forkserver_tools.py'),
    size: 2,
    startMethod: 'forkserver',
    env: { PYTHONPATH: FIXTURES },
    restart: FAST_RESTART,
    ...extra,
  });
}

const pools: Pool[] = [];
const hosts: HostProcess[] = [];
const dirs: ControlDir[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.destroy();
  for (const h of hosts.splice(0)) h.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) d.dispose();
});

async function started(extra: Partial<PoolOptions> = {}): Promise<Pool> {
  const pool = await forkPool(extra);
  pools.push(pool);
  return pool;
}

/** One `where` per worker: as many calls at once as there are workers, each goes to a free one. */
async function whereAll(pool: Pool): Promise<Where[]> {
  const n = pool.stats().workerList.length;
  return (await Promise.all(Array.from({ length: n }, () => pool.execute('where')))) as Where[];
}

describe('fork server: workers', () => {
  it('forks every worker from the zygote; each leads its own process group and session, and runs setup itself', async () => {
    const pool = await started({ preload: ['decimal'] });
    const zygote = pool.stats().forkServer?.pid;
    assert.ok(zygote !== undefined && running(zygote));
    const seen = await whereAll(pool);
    assert.equal(new Set(seen.map((w) => w.pid)).size, 2);
    for (const w of seen) {
      assert.equal(w.ppid, zygote, 'the zygote is the parent');
      assert.equal(w.pgid, w.pid, 'own process group');
      assert.equal(w.sid, w.pid, 'own session');
      assert.equal(w.setup_pid, w.pid, 'setup() ran in the worker after the fork');
    }
    assert.deepEqual(await pool.execute('modules_loaded', { names: ['decimal'] }), { decimal: true });
    assert.equal(await pool.execute('env', { name: 'SNAKEPIT_FORKED' }), '1');
    assert.equal(await pool.execute('env', { name: 'OPENBLAS_NUM_THREADS' }), '1');
  });

  it('setupInZygote runs setup() once in the zygote; the workers share its state', async () => {
    const pool = await started({ setupInZygote: true, env: { PYTHONPATH: FIXTURES, FS_SETUP_MB: '8' } });
    const zygote = pool.stats().forkServer?.pid;
    for (const w of await whereAll(pool)) assert.equal(w.setup_pid, zygote);
    assert.equal(await pool.execute('blob_sum'), 8 * 256);
  });

  it('calls, Python errors, streams and a crash on a forked worker behave as with spawn', async () => {
    const pool = await Pool.start({ python: PYTHON, adapter: fixture('basic.py'), size: 1, startMethod: 'forkserver', restart: FAST_RESTART });
    pools.push(pool);
    assert.equal(await pool.execute('add', { a: 2, b: 3 }), 5);
    const err = await rejection(pool.execute('boom', { message: 'no' }));
    assert.equal(err.code, 'PYTHON_ERROR');
    const chunks: unknown[] = [];
    for await (const c of pool.stream('count', { n: 5 })) chunks.push(c);
    assert.equal(chunks.length, 5);
    const timeout = await rejection(pool.execute('sleep', { seconds: 5 }, { timeout: 100 }));
    assert.equal(timeout.code, 'TIMEOUT');
    const session = pool.session();
    assert.equal(await session.execute('add', { a: 1 }), 3);
    const pid = pool.stats().workerList[0]!.pid!;
    process.kill(pid, 'SIGKILL');
    const lost = (await rejection(session.execute('add', { a: 1 }))) as SessionLostError;
    assert.equal(lost.code, 'SESSION_LOST');
    await waitFor(() => pool.stats().workers.ready === 1 && pool.stats().workerList[0]!.pid !== pid, 10_000, 'replacement');
    assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
  });
});

describe('fork server: every worker known by its pid', () => {
  it('announces each forked worker with its pid before it is ready, replacements included (workerSpawn, run registry)', async () => {
    // A forked worker connects back to the host while the zygote reports its pid on another channel:
    // either may come first. The worker must be tracked (event, run registry) whatever the order.
    const ctl = new ControlDir();
    dirs.push(ctl);
    const stateDir = ctl.sub('state');
    const pool = await started({ size: 4, stateDir, restart: FAST_RESTART });
    const spawned = new Map<number, number>();
    const readyWithoutSpawn: number[] = [];
    pool.on('workerSpawn', (e) => spawned.set(e.workerId, e.pid));
    pool.on('workerReady', (e) => {
      if (spawned.get(e.workerId) !== e.pid) readyWithoutSpawn.push(e.workerId);
    });
    const registered = (): number[] =>
      readdirSync(stateDir)
        .filter((f) => f.endsWith('.json'))
        .flatMap((f) => (JSON.parse(readFileSync(path.join(stateDir, f), 'utf8')) as { workers: { pid: number }[] }).workers.map((w) => w.pid));
    for (let round = 0; round < 4; round++) {
      const before = pool.stats().workerList.map((w) => w.pid!);
      for (const pid of before) process.kill(pid, 'SIGKILL');
      await waitFor(
        () => pool.stats().workers.ready === 4 && pool.stats().workerList.every((w) => w.pid !== undefined && !before.includes(w.pid)),
        20_000,
        'replacements',
      );
      const pids = pool.stats().workerList.map((w) => w.pid!);
      for (const pid of pids) assert.ok(registered().includes(pid), `worker ${pid} is in the run registry`);
    }
    assert.deepEqual(readyWithoutSpawn, [], 'every worker was announced with its pid before it was ready');
    assert.equal(spawned.size, 16);
  });
});

describe('fork server: start failures and thread detection', () => {
  it('refuses a preloaded module that starts threads at import, naming it (WORKER_START_FAILED, phase threads)', async () => {
    const err = await rejection(forkPool({ preload: ['json', 'starts_thread'] }));
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'threads');
    assert.match(err.message, /preloading 'starts_thread' started threads/);
    assert.match(err.message, /import-time-thread/);
  });

  it('preloads pandas and pyarrow: Arrow\'s jemalloc starts no purging thread in the zygote unless the user asks', async () => {
    const pool = await started({ size: 1, preload: ['pandas', 'pyarrow'] });
    assert.deepEqual(await pool.execute('modules_loaded', { names: ['pandas', 'pyarrow'] }), { pandas: true, pyarrow: true });
    await pool.close();
    const err = await rejection(forkPool({ preload: ['pyarrow'], env: { PYTHONPATH: FIXTURES, JE_ARROW_MALLOC_CONF: 'background_thread:true' } }));
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'threads');
    assert.match(err.message, /kernel threads besides the main one: [^)]*jemalloc_bg_thd/);
  });

  it('a preload that cannot be imported rejects Pool.start with its traceback (phase preload)', async () => {
    const err = await rejection(forkPool({ preload: ['preload_fails'] }));
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'preload');
    assert.match(err.message, /cannot preload 'preload_fails'/);
    assert.match(err.pythonTraceback, /RuntimeError: preload_fails cannot be imported/);
  });

  it('a zygote that hangs while it preloads is killed after startupTimeout (phase timeout)', async () => {
    const t0 = performance.now();
    const err = await rejection(forkPool({ preload: ['fs_slow'], startupTimeout: 1_000 }));
    assert.ok(err instanceof WorkerStartError);
    assert.equal(err.phase, 'timeout');
    assert.match(err.message, /did not become ready within startupTimeout \(1000 ms\)/);
    assert.ok(performance.now() - t0 < 10_000);
    assert.ok(err.pid !== undefined);
    await untilEmpty(() => (running(err.pid!) ? [err.pid!] : []), 3_000);
    assert.equal(running(err.pid!), false, 'the zygote is gone');
  });

  it("a worker's startupTimeout counts from its zygote's ready, not from the pool's start", async () => {
    // The zygote loads for 1.2 s, then each worker's setup() (workers other than 1) takes 1.2 s: 2.4 s
    // from the start, but each part within the 2 s startupTimeout.
    const pool = await forkPool({
      adapter: fixture('slow_start.py'),
      preload: ['fs_preload_sleeps'],
      startupTimeout: 2_000,
      env: { PYTHONPATH: FIXTURES, FS_PRELOAD_SECONDS: '1.2', SLOW_START_SECONDS: '1.2' },
    });
    try {
      assert.deepEqual((await Promise.all([1, 2].map(() => pool.execute('worker')))).sort(), ['1', '2']);
    } finally {
      await pool.close();
    }
  });

  it('a fork server closed while its zygote loads ends the zygote at once and fails the forks asked of it', async () => {
    // The transport on its own: a pool has no way to close before its start resolves, but its
    // transport closes so when the host tears everything down.
    const options = resolvePoolOptions({
      python: PYTHON,
      adapter: fixture('forkserver_tools.py'),
      startMethod: 'forkserver',
      preload: ['fs_preload_sleeps'],
      env: { PYTHONPATH: FIXTURES, FS_PRELOAD_SECONDS: '30' },
      stateDir: false,
    });
    const transport = forkServerTransport(options, 'closing-test', () => undefined, () => {});
    await transport.open();
    let exited = false;
    const proc = transport.launch(
      { workerId: 1, python: PYTHON, adapter: options.adapter, cwd: options.cwd, env: {}, startupTimeout: 60_000, sandbox: undefined },
      { onLine: () => {}, onSpawnError: () => {}, onExit: () => (exited = true) },
    );
    const zygote = transport.zygotePid!;
    assert.ok(running(zygote));
    transport.close();
    const err = await rejection(transport.firstZygote);
    assert.match((err as Error).message, /the pool closed before the zygote was ready/);
    await assert.rejects(proc.channel);
    await waitFor(() => exited, 5_000);
    await untilEmpty(() => (running(zygote) ? [zygote] : []), 5_000);
    assert.equal(running(zygote), false, 'the zygote is gone, not left to finish its 30 s import');
  });

  it('validates startMethod, preload and setupInZygote', async () => {
    const base = { python: PYTHON, adapter: fixture('basic.py') };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ startMethod: 'fork' }, /options.startMethod must be "spawn" or "forkserver"/],
      [{ startMethod: 'forkserver', preload: 'numpy' }, /options.preload must be an array/],
      [{ startMethod: 'forkserver', preload: ['os; rm'] }, /options.preload\[0\] must be a dotted Python module name/],
      [{ startMethod: 'forkserver', setupInZygote: 1 }, /options.setupInZygote must be a boolean/],
      [{ preload: ['numpy'] }, /options.preload needs options.startMethod "forkserver"/],
      [{ setupInZygote: true }, /options.setupInZygote needs options.startMethod "forkserver"/],
      [{ startMethod: 'forkserver', transport: 'pipe' }, /options.transport "pipe" cannot be used with options.startMethod "forkserver"/],
    ];
    for (const [extra, message] of cases) {
      const err = await rejection(Pool.start({ ...base, ...extra } as PoolOptions));
      assert.ok(err instanceof InvalidOptionsError, String(extra));
      assert.match(err.message, message);
    }
  });
});

describe('fork server: zygote crash and recovery', () => {
  it('a killed zygote is reported and restarted; running workers are unaffected; workers it forked are still supervised', async () => {
    const pool = await started();
    const exits: ZygoteExitEvent[] = [];
    const readies: ZygoteReadyEvent[] = [];
    pool.on('zygoteExit', (e) => exits.push(e));
    pool.on('zygoteReady', (e) => readies.push(e));
    const oldZygote = pool.stats().forkServer!.pid!;
    const before = pool.stats().workerList.map((w) => w.pid);
    process.kill(oldZygote, 'SIGKILL');
    await waitFor(() => readies.length === 1, 10_000, 'zygote restart');
    assert.equal(exits.length, 1);
    assert.equal(exits[0]!.pid, oldZygote);
    assert.equal(exits[0]!.signal, 'SIGKILL');
    const newZygote = pool.stats().forkServer!.pid!;
    assert.notEqual(newZygote, oldZygote);
    assert.equal(readies[0]!.restarts, 1);
    assert.deepEqual(pool.stats().forkServer, { pid: newZygote, restarts: 1, crashes: 1 });
    // The running workers kept serving, on the same pids.
    assert.deepEqual(pool.stats().workerList.map((w) => w.pid), before);
    assert.equal(pool.state, 'ready');
    for (let i = 0; i < 4; i++) assert.equal(typeof ((await pool.execute('where')) as Where).pid, 'number');
    // A worker of the dead zygote that dies now is noticed (its pid is polled) and replaced by a
    // worker forked from the new zygote.
    process.kill(before[0]!, 'SIGKILL');
    await waitFor(() => pool.stats().workers.ready === 2 && !pool.stats().workerList.some((w) => w.pid === before[0]), 10_000, 'replacement');
    const replacement = pool.stats().workerList.find((w) => !before.includes(w.pid))!;
    const seen = await whereAll(pool);
    assert.equal(seen.find((w) => w.pid === replacement.pid)?.ppid, newZygote);
  });

  it('a zygote that cannot come back opens the breakers; the pool fails fast, then recovers', async () => {
    const ctl = new ControlDir();
    dirs.push(ctl);
    const failFile = ctl.sub('fail');
    const pool = await started({ size: 1, preload: ['fs_flaky'], env: { PYTHONPATH: FIXTURES, FS_FAIL_FILE: failFile } });
    const exits: ZygoteExitEvent[] = [];
    pool.on('zygoteExit', (e) => exits.push(e));
    writeFileSync(failFile, '');
    process.kill(pool.stats().forkServer!.pid!, 'SIGKILL');
    // Restarts with backoff fail until the breaker (maxFailures 4) opens; then probes at backoffMax.
    await waitFor(() => exits.length >= 4, 15_000, 'zygote failures');
    assert.equal(exits[0]!.restartInMs, 0, 'the first restart is immediate');
    assert.ok(exits[2]!.restartInMs! > 0, 'then with backoff');
    assert.equal(exits[3]!.restartInMs, FAST_RESTART.backoffMax, 'breaker open: probes at backoffMax');
    // The running worker still serves while the zygote is down.
    assert.equal(typeof ((await pool.execute('where')) as Where).pid, 'number');
    // Its replacement cannot be forked: worker starts fail fast and the pool's breaker opens too.
    process.kill(pool.stats().workerList[0]!.pid!, 'SIGKILL');
    await waitFor(() => pool.state === 'failed', 15_000, 'pool failed');
    const err = await rejection(pool.execute('where'));
    assert.equal(err.code, 'POOL_FAILED');
    rmSync(failFile);
    await waitFor(() => pool.state === 'ready', 20_000, 'recovery');
    assert.equal(typeof ((await pool.execute('where')) as Where).pid, 'number');
  });

  it('reload starts a fresh zygote, so new workers run the new code; the old zygote goes', async () => {
    const ctl = new ControlDir();
    dirs.push(ctl);
    const file = ctl.sub('versioned.py');
    const write = (v: number): void =>
      writeFileSync(file, `from snakepit_bridge import tool\n\n\n@tool\ndef version() -> int:\n    return ${v}\n`);
    write(1);
    const pool = await Pool.start({ python: PYTHON, adapter: file, size: 2, startMethod: 'forkserver', logs: 'events' });
    pools.push(pool);
    assert.equal(await pool.execute('version'), 1);
    const oldZygote = pool.stats().forkServer!.pid!;
    write(2);
    await pool.reload();
    assert.equal(await pool.execute('version'), 2);
    assert.equal(await pool.execute('version'), 2);
    assert.notEqual(pool.stats().forkServer!.pid, oldZygote);
    const { left } = await untilEmpty(() => (running(oldZygote) ? [oldZygote] : []), 5_000);
    assert.deepEqual(left, [], 'the old zygote went once its workers had');
    assert.equal(pool.stats().forkServer!.crashes, 0);
  });

  it('close stops the zygote and every worker', async () => {
    const pool = await forkPool();
    const zygote = pool.stats().forkServer!.pid!;
    const workers = pool.stats().workerList.map((w) => w.pid!);
    await pool.close();
    const { left } = await untilEmpty(() => [zygote, ...workers].filter(running), 3_000);
    assert.deepEqual(left, []);
  });
});

describe('fork server: lifeline', () => {
  function host(): { h: HostProcess; ctl: ControlDir } {
    const ctl = new ControlDir();
    dirs.push(ctl);
    const h = new HostProcess({
      adapter: fixture('chaos.py'),
      size: 2,
      startMethod: 'forkserver',
      restart: FAST_RESTART,
      stateDir: ctl.sub('state'),
      env: { CHAOS_DIR: ctl.path, CHAOS_GRANDCHILD: '1' },
    });
    hosts.push(h);
    return { h, ctl };
  }

  it('host SIGKILLed: the zygote, the workers and their grandchildren all go (R31)', async () => {
    const { h, ctl } = host();
    await h.waitFor('ready');
    assert.equal(ctl.grandchildren().length, 2);
    assert.ok(h.survivors().length >= 5, 'zygote, workers and grandchildren are running');
    h.child.kill('SIGKILL');
    await h.exited;
    const { left } = await untilEmpty(() => h.survivors(), 5_000);
    assert.deepEqual(left, []);
  });

  it('workers whose zygote died still go when the host is SIGKILLed (socket EOF, host pid polled)', async () => {
    const { h } = host();
    const ready = await h.waitFor('ready');
    const workers = ready.pids as number[];
    // The zygote is the parent of the workers.
    const zygote = Number(/^\d+ \(.*\) \S (\d+)/.exec(readStatLine(workers[0]!))?.[1]);
    process.kill(zygote, 'SIGKILL');
    await untilEmpty(() => (running(zygote) ? [zygote] : []), 3_000);
    // Until the new zygote is up, and after: the orphaned workers are alive.
    for (const pid of workers) assert.ok(running(pid), `worker ${pid} survived its zygote`);
    h.child.kill('SIGKILL');
    await h.exited;
    const { left } = await untilEmpty(() => h.survivors(), 5_000);
    assert.deepEqual(left, []);
  });
});

describe('fork server: memory', () => {
  it("maxRss counts a forked worker's own pages (USS), not the pages it shares with the zygote", async () => {
    // 64 MiB set up in the zygote and shared: each worker's RSS is above maxRss, its USS far below.
    const pool = await started({
      size: 1,
      setupInZygote: true,
      env: { PYTHONPATH: FIXTURES, FS_SETUP_MB: '64' },
      maxRss: 48 * 1024 * 1024,
      heartbeatInterval: 50,
      heartbeatTimeout: 5_000,
    });
    const recycled: WorkerRecycleEvent[] = [];
    pool.on('workerRecycle', (e) => recycled.push(e));
    assert.equal(await pool.execute('blob_sum'), 64 * 256); // every shared page resident in this worker too
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(recycled, [], 'shared pages do not count');
    await pool.execute('hold', { mb: 64 });
    await waitFor(() => recycled.length === 1, 5_000, 'recycling by USS');
    assert.equal((recycled as WorkerRecycleEvent[])[0]!.reason, 'rss');
  });
});

function readStatLine(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'latin1');
}
