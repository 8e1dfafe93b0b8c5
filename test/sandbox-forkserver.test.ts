/**
 * The sandbox on forked workers (reliability.md R29 with R31): the zygote runs under bubblewrap, so
 * the workers it forks are confined; the host knows them by host pids; a zygote crash takes the
 * sandbox's pid namespace, and so its workers, with it, and the pool recovers; nothing survives the host.
 */

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  Pool,
  WorkerCrashedError,
  type PoolOptions,
  type PoolStateEvent,
  type WorkerExitEvent,
  type WorkerRecycleEvent,
  type ZygoteExitEvent,
  type ZygoteReadyEvent,
} from '../src/index.js';
import { hostPidOf, nsPids } from '../src/worker/forkserver/pidns.js';
import { readStat } from '../src/worker/procfs.js';
import { assertNothingOutlivesKilledHost, untilEmpty } from './control.js';
import { PYTHON, ROOT, fixture, rejection, waitFor } from './helpers.js';

const adapter = fixture('sandboxed.py');
const out = mkdtempSync(path.join(tmpdir(), 'snakepit-sfs-out-'));
// Visible in the sandbox (not under a masked /tmp), hence read-only there.
const readOnly = mkdtempSync(path.join(existsSync('/var/tmp') ? '/var/tmp' : path.join(ROOT, 'test'), 'snakepit-sfs-ro-'));
const MARK = `sfs-${process.pid}-${Date.now()}`;
const SECRET = 'sandbox-forkserver-secret-7c1e';
const FAST_RESTART = { backoffInitial: 50, backoffMax: 400, jitter: 0, maxFailures: 6, window: 30_000, stableAfter: 600 };

type Status = { pid: number; ppid: number; pgid: number; no_new_privs: string; cap_eff: string };

function sandboxedForkPool(extra: Partial<PoolOptions> = {}): Promise<Pool> {
  return Pool.start({
    python: PYTHON,
    adapter,
    size: 2,
    startMethod: 'forkserver',
    logs: 'events',
    restart: FAST_RESTART,
    env: { SANDBOX_MARK: MARK },
    sandbox: { writable: [out] },
    ...extra,
  });
}


function running(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** A host pid of a sandboxed worker: alive, in a pid namespace below the host's (two NSpid entries). */
function assertHostPid(pid: number | undefined): number[] {
  assert.ok(pid !== undefined);
  process.kill(pid, 0);
  const ns = nsPids(pid);
  assert.equal(ns?.length, 2, `NSpid of ${pid}: ${String(ns)}`);
  assert.equal(ns[0], pid);
  return ns;
}

/** One `status` per worker: as many calls at once as there are workers, each goes to a free one. */
async function statusAll(pool: Pool): Promise<Status[]> {
  const n = pool.stats().workerList.length;
  return Promise.all(Array.from({ length: n }, () => pool.execute<Status>('status', {}, { timeout: 5_000 })));
}

after(() => {
  rmSync(out, { recursive: true, force: true });
  rmSync(readOnly, { recursive: true, force: true });
});

describe('sandboxed fork server', () => {
  let pool: Pool;
  let server: Server;
  let port = 0;
  before(async () => {
    process.env.SECRET_TOKEN = SECRET;
    server = createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    pool = await sandboxedForkPool();
  });
  after(async () => {
    await pool.destroy();
    server.close();
    delete process.env.SECRET_TOKEN;
  });

  it('forked workers answer calls, confined: no new privileges, no capabilities, the sandbox\'s pid namespace', async () => {
    assert.equal(await pool.execute('add', { a: 2, b: 3 }), 5);
    assert.equal(await pool.execute('env', { name: 'SNAKEPIT_FORKED' }), '1');
    const seen = await statusAll(pool);
    const hostPids = pool.stats().workerList.map((w) => w.pid!);
    for (const s of seen) {
      assert.equal(s.no_new_privs, '1');
      assert.equal(BigInt(`0x${s.cap_eff}`), 0n);
      assert.equal(s.pgid, s.pid, 'each forked worker leads its own process group');
      assert.ok(!hostPids.includes(s.pid), 'the worker sees its pid in the sandbox, not the host\'s');
    }
    // Every worker was forked by one zygote in one sandbox.
    assert.equal(new Set(seen.map((s) => s.ppid)).size, 1);
  });

  it("the pids in stats() are host pids; each maps to the worker's pid in the sandbox", async () => {
    const seen = await statusAll(pool);
    const inner = new Set(seen.map((s) => s.pid));
    const list = pool.stats().workerList;
    assert.equal(list.length, 2);
    for (const w of list) {
      const ns = assertHostPid(w.pid);
      assert.ok(inner.has(ns[1]!), `host pid ${w.pid} is worker ${ns[1]} in the sandbox`);
    }
    // The search from bwrap's pid down finds each worker by its pid in the sandbox, and nothing else.
    const bwrap = pool.stats().forkServer!.pid!;
    assert.equal(readFileSync(`/proc/${bwrap}/comm`, 'latin1').trim(), 'bwrap');
    for (const w of list) assert.equal(hostPidOf(bwrap, nsPids(w.pid!)![1]!), w.pid);
    assert.equal(hostPidOf(bwrap, 4_000_000), undefined);
  });

  it('cannot open a TCP connection to a server on the host', async () => {
    assert.match(await pool.execute<string>('connect', { port }), /^refused/);
  });

  it('cannot write outside the writable paths; can write inside them; /tmp is private', async () => {
    assert.match(await pool.execute<string>('write', { path: path.join(readOnly, 'f') }), /refused: Read-only file system/);
    assert.equal(existsSync(path.join(readOnly, 'f')), false);
    assert.match(await pool.execute<string>('write', { path: path.join(ROOT, 'sandbox-fs-escape') }), /refused/);
    assert.equal(existsSync(path.join(ROOT, 'sandbox-fs-escape')), false);
    assert.equal(await pool.execute('write', { path: path.join(out, 'result') }), 'written');
    assert.equal(readFileSync(path.join(out, 'result'), 'utf8'), 'x');
    const privateTmp = path.join(tmpdir(), `snakepit-sfs-private-${process.pid}`);
    assert.equal(await pool.execute('write', { path: privateTmp }), 'written');
    assert.equal(existsSync(privateTmp), false);
  });

  it("the connect-back socket's folder is visible in the sandbox but not writable there", async () => {
    const socketPath = await pool.execute<string>('env', { name: 'SNAKEPIT_CONNECT' });
    assert.ok(socketPath !== null && existsSync(socketPath));
    assert.match(await pool.execute<string>('write', { path: path.join(path.dirname(socketPath), 'planted') }), /refused: Read-only file system/);
  });

  it("cannot read a host environment secret or the host's pid; gets what the pool passes", async () => {
    assert.equal(await pool.execute('env', { name: 'SECRET_TOKEN' }), null);
    assert.equal(await pool.execute('env', { name: 'HOME' }), null);
    assert.equal(await pool.execute('env', { name: 'SNAKEPIT_HOST_PID' }), null);
    assert.equal(await pool.execute('env', { name: 'SANDBOX_MARK' }), MARK);
    assert.equal(await pool.execute('env', { name: 'OPENBLAS_NUM_THREADS' }), '1', 'the fork server\'s single-thread defaults');
  });

  it('a worker killed by its host pid is replaced by a new forked, sandboxed worker', async () => {
    const exits: WorkerExitEvent[] = [];
    pool.on('workerExit', (e) => exits.push(e));
    const victim = pool.stats().workerList[0]!.pid!;
    process.kill(victim, 'SIGKILL');
    await waitFor(() => pool.stats().workers.ready === 2 && !pool.stats().workerList.some((w) => w.pid === victim), 10_000, 'replacement');
    const exit = exits.find((e) => e.pid === victim);
    assert.ok(exit !== undefined, 'the exit event names the host pid');
    assert.equal(exit.signal, 'SIGKILL');
    for (const w of pool.stats().workerList) assertHostPid(w.pid);
    assert.equal(await pool.execute('env', { name: 'SECRET_TOKEN' }), null);
    assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
  });
});

describe('sandboxed fork server: zygote crash and memory', () => {
  it('the zygote killed: its workers die with the sandbox, the losses are reported, zygote and workers come back', async () => {
    const pool = await sandboxedForkPool();
    try {
      const zygoteExits: ZygoteExitEvent[] = [];
      const readies: ZygoteReadyEvent[] = [];
      pool.on('zygoteExit', (e) => zygoteExits.push(e));
      pool.on('zygoteReady', (e) => readies.push(e));
      const before = pool.stats().workerList.map((w) => w.pid!);
      // The zygote itself (the workers' parent), not bwrap: as if it crashed.
      const zygote = readStat(before[0]!)!.ppid;
      assert.equal(readStat(before[1]!)!.ppid, zygote);
      const session = pool.session();
      await session.execute('add', { a: 1, b: 1 });
      const busy = rejection(pool.execute('sleep', { seconds: 30 }));
      await new Promise((r) => setTimeout(r, 200));
      process.kill(zygote, 'SIGKILL');
      const err = await busy;
      assert.equal(err.code, 'WORKER_CRASHED', err.message);
      assert.ok(err instanceof WorkerCrashedError);
      assert.ok(before.includes(err.pid!), 'the error names the host pid');
      assert.equal(err.signal, 'SIGKILL', 'killed with the pid namespace');
      assert.equal((await rejection(session.execute('add', { a: 1, b: 1 }))).code, 'SESSION_LOST');
      await waitFor(() => readies.length === 1, 10_000, 'zygote restart');
      assert.equal(zygoteExits.length, 1);
      assert.equal(zygoteExits[0]!.signal, 'SIGKILL', 'the signal is named through bwrap');
      // Every worker of the dead sandbox is gone (the pid namespace went with its main process).
      const { left } = await untilEmpty(() => before.filter(running), 3_000);
      assert.deepEqual(left, []);
      await waitFor(() => pool.stats().workers.ready === 2 && pool.stats().workerList.every((w) => !before.includes(w.pid!)), 10_000, 'workers back');
      assert.equal(pool.state, 'ready');
      assert.deepEqual(pool.stats().forkServer, { pid: readies[0]!.pid, restarts: 1, crashes: 1 });
      for (const w of pool.stats().workerList) assertHostPid(w.pid);
      assert.equal(await pool.execute('add', { a: 2, b: 2 }), 4);
      assert.equal(await pool.execute('env', { name: 'SECRET_TOKEN' }), null);
    } finally {
      await pool.destroy();
    }
  });

  it('workers lost with the zygote are not failures of their own: with size >= restart.maxFailures one zygote crash does not fail the pool', async () => {
    const pool = await sandboxedForkPool({ restart: { ...FAST_RESTART, maxFailures: 2 } });
    try {
      const states: PoolStateEvent[] = [];
      pool.on('poolState', (e) => states.push(e));
      const before = pool.stats().workerList.map((w) => w.pid!);
      process.kill(readStat(before[0]!)!.ppid, 'SIGKILL');
      await waitFor(
        () => pool.stats().workers.ready === 2 && pool.stats().workerList.every((w) => !before.includes(w.pid!)),
        15_000,
        'workers back',
      );
      assert.deepEqual(states.map((e) => e.to).filter((to) => to === 'failed'), [], 'the pool never failed');
      assert.equal(pool.state, 'ready');
      assert.equal(await pool.execute('add', { a: 1, b: 2 }), 3);
    } finally {
      await pool.destroy();
    }
  });

  it("maxRss measures the forked worker's own pages through its host pid", async () => {
    const pool = await sandboxedForkPool({ size: 1, maxRss: 48 * 1024 * 1024, heartbeatInterval: 50, heartbeatTimeout: 5_000 });
    try {
      const recycled: WorkerRecycleEvent[] = [];
      pool.on('workerRecycle', (e) => recycled.push(e));
      const pid = pool.stats().workerList[0]!.pid!;
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(recycled, []);
      await pool.execute('hold', { mb: 64 });
      await waitFor(() => recycled.length === 1, 5_000, 'recycling by USS');
      const event = (recycled as WorkerRecycleEvent[])[0]!;
      assert.equal(event.reason, 'rss');
      assert.equal(event.pid, pid);
    } finally {
      await pool.destroy();
    }
  });
});

describe('sandboxed fork server: reload', () => {
  it('reload starts a fresh sandboxed zygote (adapter under the masked /tmp); new workers run the new code', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-sfs-reload-'));
    const file = path.join(dir, 'versioned.py');
    const write = (v: number): void =>
      writeFileSync(file, `import os\n\nfrom snakepit_bridge import tool\n\n\n@tool\ndef version() -> list:\n    return [${v}, os.environ.get("SECRET_TOKEN")]\n`);
    write(1);
    process.env.SECRET_TOKEN = SECRET;
    const pool = await Pool.start({ python: PYTHON, adapter: file, size: 1, startMethod: 'forkserver', logs: 'events', sandbox: {} });
    try {
      assert.deepEqual(await pool.execute('version'), [1, null]);
      const oldZygote = pool.stats().forkServer!.pid!;
      write(2);
      await pool.reload();
      assert.deepEqual(await pool.execute('version'), [2, null]);
      assert.notEqual(pool.stats().forkServer!.pid, oldZygote);
      assertHostPid(pool.stats().workerList[0]!.pid);
      const { left } = await untilEmpty(() => (running(oldZygote) ? [oldZygote] : []), 5_000);
      assert.deepEqual(left, [], 'the old sandbox went once its workers had');
    } finally {
      delete process.env.SECRET_TOKEN;
      await pool.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sandboxed fork server: lifeline', () => {
  it('host SIGKILLed: the sandbox, its zygote, the workers and a grandchild in a session of its own all go', async () => {
    const mark = `${MARK}-host`;
    // bwrap and its init do not carry the pool's environment; the zygote, 2 workers and the grandchild do.
    const config = { adapter, size: 2, startMethod: 'forkserver', env: { SANDBOX_MARK: mark }, sandbox: {}, stateDir: false };
    await assertNothingOutlivesKilledHost(config, ['SANDBOX_MARK', mark], 4);
  });
});
