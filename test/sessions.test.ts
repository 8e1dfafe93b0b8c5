import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  InvalidOptionsError,
  Pool,
  SessionBusyError,
  SessionClosedError,
  SessionLostError,
  TooManySessionsError,
} from '../src/index.js';
import { resolvePoolOptions } from '../src/options.js';
import { PoolCore } from '../src/pool/core.js';
import { BUILTIN_TOOLS, HOST_BUILTIN_TOOLS, REF_MARKER_KEYS } from '../src/protocol/messages.js';
import { fromWireError } from '../src/protocol/wire-errors.js';
import { PYTHON, ROOT, alive, fixture, rejection, startPool, waitFor, withPool } from './helpers.js';

const adapter = fixture('sessions.py');
type Incr = { n: number; pid: number };

describe('sessions: affinity and state', () => {
  let pool: Pool;
  before(async () => {
    pool = await startPool({ adapter, size: 3 });
  });
  after(() => pool.destroy());

  it('runs every call of a session on one worker, which keeps its state (R16)', async () => {
    const s = pool.session();
    const results: Incr[] = [];
    for (let i = 0; i < 20; i++) results.push(await s.execute<Incr>('incr'));
    assert.deepEqual(results.map((r) => r.n), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(new Set(results.map((r) => r.pid)).size, 1, 'one pid for every call');
    assert.equal(s.pid, results[0]!.pid);
    assert.equal(await s.execute('aincr'), 21, 'async tools share the state');
    const streamed: number[] = [];
    for await (const i of s.stream<number>('numbers', { n: 3 })) streamed.push(i);
    assert.deepEqual(streamed, [0, 1, 2]);
    await s.close();
  });

  it('keeps sessions apart and spreads new ones over idle workers', async () => {
    const sessions = [pool.session(), pool.session(), pool.session()];
    const first = await Promise.all(sessions.map((s) => s.execute<Incr>('incr', { by: 10 })));
    assert.deepEqual(first.map((r) => r.n), [10, 10, 10], 'each session starts empty');
    assert.equal(new Set(first.map((r) => r.pid)).size, 3, 'three idle workers take one session each');
    const again = await Promise.all(sessions.map((s) => s.execute<Incr>('incr')));
    assert.deepEqual(again.map((r) => r.n), [11, 11, 11]);
    assert.deepEqual(again.map((r) => r.pid), first.map((r) => r.pid));
    await Promise.all(sessions.map((s) => s.close()));
  });

  it('concurrent calls of a session all go to its worker, queued while it is busy', async () => {
    const s = pool.session();
    const results = await Promise.all(Array.from({ length: 10 }, () => s.execute<Incr>('incr')));
    assert.deepEqual(results.map((r) => r.n).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1));
    assert.equal(new Set(results.map((r) => r.pid)).size, 1);
    await s.close();
  });

  it('an id names one session: asking again returns it', async () => {
    const a = pool.session('user-42');
    assert.equal(pool.session('user-42'), a);
    await a.execute('incr');
    await a.close();
    const b = pool.session('user-42');
    assert.notEqual(b, a);
    assert.equal((await b.execute<Incr>('incr')).n, 1, 'a session reopened after close starts empty');
    await b.close();
  });

  it('a tool that asks for ctx.session outside a session gets a clear error', async () => {
    const err = await rejection(pool.execute('no_session'));
    assert.equal(err.code, 'PYTHON_ERROR');
    assert.match(err.message, /not called in a session; call it through pool\.session\(\)/);
  });
});

describe('sessions: a busy worker', () => {
  it('waits in the worker queue by default even when another worker is free', async () => {
    await withPool({ adapter, size: 2 }, async (pool) => {
      const s = pool.session();
      const pid = (await s.execute<Incr>('incr')).pid;
      const holding = s.execute('hold', { seconds: 0.3 });
      const next = s.execute<Incr>('incr');
      await waitFor(() => pool.stats().inFlight === 1, 2000, 'hold in flight');
      assert.equal(pool.stats().inFlight, 1, 'the second call waits although a worker is idle');
      assert.deepEqual(await next, { n: 2, pid });
      assert.equal(await holding, false);
    });
  });

  it('fails fast with SESSION_BUSY when the session asks for it', async () => {
    await withPool({ adapter, size: 2 }, async (pool) => {
      const s = pool.session(undefined, { busy: 'fail' });
      await s.execute('incr');
      const holding = s.execute('hold', { seconds: 0.2 });
      const err = await rejection(s.execute('incr'));
      assert.ok(err instanceof SessionBusyError);
      assert.equal(err.retryable, true);
      await holding;
      assert.equal((await s.execute<Incr>('incr')).n, 2, 'the refused call never ran');
    });
  });
});

describe('sessions: lost with their worker (R16)', () => {
  it('a killed worker loses its sessions: calls in flight, queued and later all reject with SESSION_LOST', async () => {
    await withPool({ adapter, size: 2 }, async (pool) => {
      const s = pool.session();
      const other = pool.session();
      const { pid } = await s.execute<Incr>('incr');
      const otherPid = (await other.execute<Incr>('incr')).pid;
      assert.notEqual(pid, otherPid);
      const running = rejection(s.execute('hold', { seconds: 30 }));
      const queued = rejection(s.execute('incr'));
      await waitFor(() => pool.stats().inFlight === 1, 2000, 'hold in flight');
      process.kill(pid, 'SIGKILL');
      const [a, b] = await Promise.all([running, queued]);
      for (const err of [a, b]) {
        assert.ok(err instanceof SessionLostError, `${err.code}: ${err.message}`);
        assert.equal(err.reason, 'worker-exit');
        assert.equal(err.sessionId, s.id);
      }
      assert.equal((a.cause as { code?: string }).code, 'WORKER_CRASHED');
      assert.equal(s.state, 'lost');
      assert.equal(s.lostError?.reason, 'worker-exit');
      const later = await rejection(s.execute('incr'));
      assert.ok(later instanceof SessionLostError, 'never a silent move to a worker with empty state');
      assert.equal((await other.execute<Incr>('incr')).n, 2, 'a session on another worker is untouched');
      await waitFor(() => pool.stats().workers.ready === 2, 10_000, 'replacement ready');
      const fresh = pool.session();
      const r = await fresh.execute<Incr>('incr');
      assert.equal(r.n, 1);
      await s.close();
      assert.equal(s.state, 'closed');
      assert.ok(pool.stats().failedByCode.SESSION_LOST! >= 3);
    });
  });

  it('a worker that exits in the middle of a session call loses the session', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      const s = pool.session();
      await s.execute('incr');
      const err = await rejection(s.execute('crash'));
      assert.equal(err.code, 'SESSION_LOST');
      assert.equal((await rejection(s.execute('incr'))).code, 'SESSION_LOST');
    });
  });

  it('with onLost: rebind, later calls start afresh on another worker', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      const s = pool.session(undefined, { onLost: 'rebind' });
      const { pid } = await s.execute<Incr>('incr');
      await s.execute('incr');
      const err = await rejection(s.execute('crash'));
      assert.equal(err.code, 'WORKER_CRASHED', 'the call in flight still fails');
      const after = await s.execute<Incr>('incr');
      assert.notEqual(after.pid, pid);
      assert.equal(after.n, 1, 'the state starts empty, as asked');
      assert.equal(s.state, 'open');
    });
  });

  it('a session whose calls never reached its worker binds again without loss', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      const holder = pool.session();
      const { pid } = await holder.execute<Incr>('incr');
      const holding = rejection(holder.execute('hold', { seconds: 30 }));
      await waitFor(() => pool.stats().inFlight === 1, 2000, 'hold in flight');
      const fresh = pool.session();
      const first = fresh.execute<Incr>('incr'); // bound to the only worker, waiting in its queue
      assert.equal(fresh.pid, pid);
      process.kill(pid, 'SIGKILL');
      assert.equal((await holding).code, 'SESSION_LOST');
      const result = await first;
      assert.equal(result.n, 1);
      assert.notEqual(result.pid, pid, 'it ran on the replacement');
      assert.equal(fresh.state, 'open', 'no state existed on the dead worker, so nothing was lost');
      assert.equal((await fresh.execute<Incr>('incr')).n, 2);
    });
  });
});

describe('sessions: R16 under repeated crashes', () => {
  it('each session keeps one pid and an unbroken state until its worker dies, then only reports itself lost', async () => {
    await withPool({ adapter, size: 3 }, async (pool) => {
      const sessions = Array.from({ length: 6 }, () => pool.session());
      type Outcome = { ok: true; n: number; pid: number } | { ok: false; code: string };
      const ledgers: Outcome[][] = sessions.map(() => []);
      // Every session keeps calling until the killer is done and then makes one more call, so a
      // session whose worker died always has a failed call in its ledger.
      let killerDone = false;
      const drive = async (i: number): Promise<void> => {
        const s = sessions[i]!;
        for (let k = 0; k < 2000; k++) {
          const last = killerDone;
          try {
            const r = await s.execute<Incr>('incr');
            ledgers[i]!.push({ ok: true, n: r.n, pid: r.pid });
          } catch (err) {
            ledgers[i]!.push({ ok: false, code: (err as { code?: string }).code ?? 'UNTYPED' });
          }
          if (last) break;
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      const killer = (async () => {
        const killed: number[] = [];
        for (let k = 0; k < 4; k++) {
          await new Promise((r) => setTimeout(r, 120));
          const pids = pool.stats().workerList.filter((w) => w.state === 'ready').map((w) => w.pid!);
          if (pids.length > 0) {
            const pid = pids[k % pids.length]!;
            process.kill(pid, 'SIGKILL');
            killed.push(pid);
          }
        }
        // The pool has seen every kill (the workers are out of its list) before the final calls.
        await waitFor(() => !pool.stats().workerList.some((w) => killed.includes(w.pid!)), 10_000, 'kills noticed');
        killerDone = true;
      })();
      await Promise.all([...sessions.map((_, i) => drive(i)), killer]);
      let lostSessions = 0;
      for (const [i, ledger] of ledgers.entries()) {
        const oks = ledger.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
        assert.equal(new Set(oks.map((o) => o.pid)).size <= 1, true, `session ${i} ran on one pid`);
        assert.deepEqual(oks.map((o) => o.n), oks.map((_, k) => k + 1), `session ${i} never lost state silently`);
        const firstLoss = ledger.findIndex((o) => !o.ok);
        if (firstLoss !== -1) {
          lostSessions++;
          assert.ok(ledger.slice(firstLoss).every((o) => !o.ok && o.code === 'SESSION_LOST'), `session ${i}: only SESSION_LOST after the loss`);
          assert.equal(sessions[i]!.state, 'lost');
        } else {
          assert.equal(sessions[i]!.state, 'open');
        }
      }
      assert.ok(lostSessions > 0, 'the crashes hit sessions');
      const stats = pool.stats();
      assert.equal(stats.submitted, stats.succeeded + stats.failed, 'every call settled');
    });
  });
});

describe('sessions: ending', () => {
  it('close() frees the Python state at once and refuses further calls', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      const s = pool.session('closing');
      await s.execute('incr');
      assert.deepEqual(await pool.execute('live_sessions'), ['closing']);
      const running = s.execute<boolean>('hold', { seconds: 0.2 });
      const queued = rejection(s.execute('incr'));
      const closed = s.close();
      assert.ok((await queued) instanceof SessionClosedError);
      assert.equal(await running, false, 'a call in progress finishes');
      await closed;
      const ended = async () => (await pool.execute<string[]>('ended_sessions')).includes('closing');
      for (let i = 0; i < 100 && !(await ended()); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(await ended(), 'teardown_session ran');
      assert.deepEqual(await pool.execute('live_sessions'), []);
      const late = await rejection(s.execute('incr'));
      assert.ok(late instanceof SessionClosedError);
      await s.close();
    });
  });

  it('idle sessions expire after sessionTtl on both sides', async () => {
    await withPool({ adapter, size: 1, sessionTtl: 150 }, async (pool) => {
      const s = pool.session('idle');
      await s.execute('incr');
      const busy = pool.session('busy');
      const holding = busy.execute('hold', { seconds: 0.4 });
      await waitFor(() => s.state === 'lost', 3000, 'expiry');
      assert.equal(s.lostError?.reason, 'expired');
      assert.match(s.lostError!.message, /expired after 150 ms idle \(sessionTtl\)/);
      await holding;
      assert.equal(busy.state, 'open', 'a session with a call running does not expire');
      const err = await rejection(s.execute('incr'));
      assert.equal(err.code, 'SESSION_LOST');
      const live = async () => pool.execute<string[]>('live_sessions');
      for (let i = 0; i < 100 && (await live()).includes('idle'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(!(await live()).includes('idle'), 'the worker freed the state');
      const again = pool.session('idle');
      assert.notEqual(again, s, 'an expired session left the registry');
    });
  });

  it('maxSessions bounds open sessions with a typed error', async () => {
    await withPool({ adapter, size: 1, maxSessions: 2 }, async (pool) => {
      const a = pool.session();
      pool.session();
      assert.throws(() => pool.session(), TooManySessionsError);
      await a.close();
      pool.session();
    });
  });

  it('pool close ends sessions and the workers tear them down', async () => {
    const pool = await startPool({ adapter, size: 1 });
    const s = pool.session();
    const { pid } = await s.execute<Incr>('incr');
    await pool.close();
    assert.equal(alive(pid), false);
    assert.equal(s.state, 'closed');
    assert.equal((await rejection(s.execute('incr'))).code, 'POOL_CLOSED');
    assert.throws(() => pool.session(), /pool is closed/);
  });
});

describe('sessions: options', () => {
  it('validates session options, naming the option', async () => {
    await withPool({ adapter, size: 1 }, async (pool) => {
      assert.throws(() => pool.session(undefined, { busy: 'wait' } as never), /session option busy must be "queue" or "fail"/);
      assert.throws(() => pool.session(undefined, { onLost: 'move' } as never), /session option onLost must be "fail" or "rebind"/);
      assert.throws(() => pool.session(undefined, { ttl: 1 } as never), /session option ttl is not known/);
      assert.throws(() => pool.session(''), /session id must be a non-empty string/);
      assert.throws(() => pool.session(undefined, 5 as never), InvalidOptionsError);
    });
  });

  it('validates the pool options of sessions', () => {
    const base = { adapter, python: PYTHON };
    assert.throws(() => resolvePoolOptions({ ...base, sessionTtl: -1 }), /options\.sessionTtl must be an integer >= 0/);
    assert.throws(() => resolvePoolOptions({ ...base, maxSessions: 0 }), /options\.maxSessions must be an integer >= 1/);
    assert.throws(() => resolvePoolOptions({ ...base, maxRefs: 1.5 }), /options\.maxRefs must be an integer from 1/);
    const ok = resolvePoolOptions(base);
    assert.equal(ok.sessionTtl, 3_600_000);
    assert.equal(ok.maxSessions, 10_000);
    assert.equal(ok.maxRefs, 1_000);
  });
});

describe('sessions: recycling hooks', () => {
  it('reports workers that hold live sessions, and ends them explicitly when asked', async () => {
    const core = new PoolCore(resolvePoolOptions({ adapter, python: PYTHON, size: 1 }), new EventEmitter());
    await core.start();
    try {
      const worker = core.workers[0]!;
      assert.equal(core.sessions.hasLiveSessions(worker), false);
      const s = core.sessions.open('kept', undefined);
      assert.equal(core.sessions.hasLiveSessions(worker), false, 'a session with no call holds nothing');
      await s.execute('incr');
      assert.equal(core.sessions.hasLiveSessions(worker), true);
      assert.equal(core.sessions.loseSessions(worker, 'recycled'), 1);
      assert.equal(core.sessions.hasLiveSessions(worker), false);
      assert.equal(s.state, 'lost');
      assert.equal(s.lostError?.reason, 'recycled');
      const err = await rejection(s.execute('incr'));
      assert.ok(err instanceof SessionLostError);
      for (let i = 0; i < 100 && ((await core.execute('live_sessions', {})) as string[]).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(await core.execute('live_sessions', {}), [], 'the worker freed the state');
    } finally {
      await core.destroy();
    }
  });
});

describe('sessions: protocol', () => {
  const spec = JSON.parse(readFileSync(path.join(ROOT, 'python', 'snakepit_bridge', 'protocol.json'), 'utf8')) as {
    error_kinds: string[];
    sessions: { ref_marker: string[]; builtin_tools: string[]; host_builtin_tools: string[] };
  };

  it('protocol.json and messages.ts agree on the session additions', () => {
    assert.deepEqual(spec.sessions.ref_marker, [...REF_MARKER_KEYS]);
    assert.deepEqual(spec.sessions.builtin_tools.sort(), Object.values(BUILTIN_TOOLS).sort());
    assert.deepEqual(spec.sessions.host_builtin_tools, Object.values(HOST_BUILTIN_TOOLS));
  });

  it('every new error kind maps to its typed error', () => {
    const expected: Record<string, string> = {
      permission_denied: 'PERMISSION_DENIED',
      invalid_ref: 'INVALID_REF',
      too_many_refs: 'TOO_MANY_REFS',
    };
    for (const [kind, code] of Object.entries(expected)) {
      assert.ok(spec.error_kinds.includes(kind));
      const err = fromWireError({ kind, type: null, module: null, message: 'm', traceback: '' }, 't', () => [], {});
      assert.equal(err.code, code);
    }
  });
});
