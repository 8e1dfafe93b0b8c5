/**
 * The fork-server transport: one zygote per pool (src/worker/forkserver/zygote.ts) imports the
 * preloaded modules and the adapter once and forks each worker, which connects back to the pool's
 * Unix socket with a one-time token (connect-back.ts), as with the socket transport. The process
 * side of a forked worker is known by the pid the zygote reports (forked.ts): signals go to its
 * process group, its exit comes from the zygote that reaps it.
 *
 * A zygote that dies is reported (`zygoteExit`) and started again with the pool's restart policy
 * (backoff per consecutive failure, the breaker over `restart.window`); workers already running are
 * not touched. While the breaker is open, launches fail at once, so the pool's own supervisor counts
 * failed starts and opens its breaker too.
 *
 * With a sandbox the zygote runs under bubblewrap and sees, besides what a sandboxed worker sees, the
 * socket's private folder. Its workers live in its pid namespace: when it dies they die with it (their
 * exits are noticed by polling their pids, as for any orphaned worker, and the pool replaces them).
 */

import type net from 'node:net';
import { dirname } from 'node:path';
import { WorkerStartError } from '../errors.js';
import type { ResolvedRestartOptions } from '../options.js';
import { RestartPolicy } from '../supervision/restart-policy.js';
import type { ForkedProcess } from '../worker/forkserver/forked.js';
import type { ZygoteSpec } from '../worker/forkserver/launch.js';
import { ZygoteLife } from '../worker/forkserver/zygote.js';
import { LineTail } from '../worker/lines.js';
import { killGroup } from '../worker/process.js';
import { trackWorker, untrackWorker } from '../worker/registry.js';
import { ConnectBackListener } from './connect-back.js';
import type { Channel, LaunchSpec, ProcessEvents, Transport, WorkerProcess } from './transport.js';

export interface ForkServerHooks {
  onZygoteReady(pid: number, loadMs: number, restarts: number): void;
  onZygoteExit(pid: number | undefined, code: number | null, signal: NodeJS.Signals | null, restartInMs: number | null): void;
  onZygoteLog(pid: number | undefined, line: string, stream: 'stdout' | 'stderr'): void;
}

export interface ForkServerSpec extends ZygoteSpec {
  /** Parent folder of the private socket directory (the state directory, else the temp folder). */
  socketParent: string | undefined;
  restart: ResolvedRestartOptions;
  /** The pool's killGrace: how long stopping workers may take (the zygote outlives them by that). */
  killGrace: number;
}

const STDERR_TAIL_LINES = 40;

export class ForkServerTransport implements Transport {
  readonly kind = 'forkserver' as const;
  private readonly listener: ConnectBackListener;
  private life: ZygoteLife | undefined;
  private readonly policy: RestartPolicy;
  private streak = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private failure: WorkerStartError | undefined;
  private waiters: { resolve: (life: ZygoteLife) => void; reject: (err: Error) => void }[] = [];
  restarts = 0;
  /** Zygote processes that died unexpectedly. */
  crashes = 0;

  constructor(
    private readonly spec: ForkServerSpec,
    private readonly hooks: ForkServerHooks,
  ) {
    this.policy = new RestartPolicy(spec.restart);
    this.listener = new ConnectBackListener(spec.socketParent);
  }

  /**
   * The first zygote's start: resolves once it is ready, rejects with its WorkerStartError (preload,
   * import, threads, timeout), the transport then closed. Set by `open`.
   */
  firstZygote: Promise<void> = Promise.resolve();

  /**
   * Listen and start the first zygote, without waiting for it: launches made meanwhile fork once it
   * is ready, so the pool sets its workers up while the zygote imports (`firstZygote` says how that
   * went).
   */
  async open(): Promise<void> {
    await this.listener.listen();
    const life = this.spawn();
    this.firstZygote = life.ready.then(
      () => this.hooks.onZygoteReady(life.pid!, life.loadMs, 0),
      (err: unknown) => {
        this.close();
        throw err;
      },
    );
    this.firstZygote.catch(() => {}); // the pool's start awaits it
  }

  get zygotePid(): number | undefined {
    return this.life?.exited === false ? this.life.pid : undefined;
  }

  /** The zygote's spec; a sandboxed zygote sees the connect-back socket's private folder. */
  private zygoteSpec(): ZygoteSpec {
    return this.spec.sandbox === undefined ? this.spec : { ...this.spec, binds: [dirname(this.listener.path)] };
  }

  private spawn(): ZygoteLife {
    const life = new ZygoteLife(
      this.zygoteSpec(),
      (l, code, signal) => this.onLifeExit(l, code, signal),
      (line, stream) => this.hooks.onZygoteLog(life.pid, line, stream),
    );
    this.life = life;
    trackWorker(life);
    return life;
  }

  private onLifeExit(life: ZygoteLife, code: number | null, signal: NodeJS.Signals | null): void {
    untrackWorker(life);
    if (this.closed || life !== this.life) return;
    this.crashes++;
    const now = performance.now();
    this.streak = this.policy.nextStreak(this.streak, now - life.startedAt);
    const open = this.policy.recordFailure(now);
    const delay = open ? this.policy.probeDelay() : this.policy.delay(this.streak);
    if (open) {
      this.failure = new WorkerStartError(
        `fork server failed: its zygote died ${this.spec.restart.maxFailures} times within ${this.spec.restart.window} ms (options.restart)`,
        { phase: 'forkserver' },
      );
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    }
    this.hooks.onZygoteExit(life.pid, code, signal, delay);
    this.restartTimer = setTimeout(() => this.restart(), delay);
    this.restartTimer.unref();
  }

  private restart(): void {
    this.restartTimer = undefined;
    if (this.closed) return;
    const life = this.spawn();
    life.ready.then(
      () => {
        if (life !== this.life || this.closed) return;
        this.restarts++;
        if (this.policy.quietSince(performance.now())) this.policy.reset();
        this.failure = undefined;
        for (const w of this.waiters.splice(0)) w.resolve(life);
        this.hooks.onZygoteReady(life.pid!, life.loadMs, this.restarts);
      },
      () => {
        /* its exit is counted by onLifeExit, which schedules the next try */
      },
    );
  }

  /**
   * The zygote to fork from: the running one, even while it still loads (it takes requests once it is
   * ready), or the next one, waiting for a restart under way at most `timeoutMs`.
   */
  private zygote(timeoutMs: number): Promise<ZygoteLife> {
    const life = this.life;
    if (this.closed) return Promise.reject(new WorkerStartError('the pool closed', { phase: 'forkserver' }));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (life !== undefined && !life.exited) return Promise.resolve(life);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(new WorkerStartError(`the fork server did not come back within ${timeoutMs} ms`, { phase: 'forkserver' }));
      }, timeoutMs);
      const waiter = {
        resolve: (l: ZygoteLife) => (clearTimeout(timer), resolve(l)),
        reject: (e: Error) => (clearTimeout(timer), reject(e)),
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Start a new zygote (fresh imports of the preloaded modules and the adapter, for a reload) and
   * fork from it from now on. The previous zygote stays until the workers it forked have exited
   * (it reaps them), at the latest after `graceMs` (sandboxed: however long that takes, since its
   * workers die with it). Rejects, keeping the current zygote, when the new one cannot start.
   */
  async renew(graceMs: number): Promise<void> {
    if (this.closed) return;
    const old = this.life;
    const life = new ZygoteLife(
      this.zygoteSpec(),
      (l, code, signal) => this.onLifeExit(l, code, signal),
      (line, stream) => this.hooks.onZygoteLog(life.pid, line, stream),
    );
    trackWorker(life);
    try {
      await life.ready;
    } catch (err) {
      life.killNow();
      throw err;
    }
    if (this.closed) {
      life.killNow();
      return;
    }
    this.life = life;
    // A sandboxed zygote takes its workers with it: it stays until the last of them has gone.
    old?.retire(this.spec.sandbox === undefined ? graceMs : undefined);
    this.hooks.onZygoteReady(life.pid!, life.loadMs, this.restarts);
  }

  /** Start one worker: fork it from the zygote; it connects back with its token. */
  launch(spec: LaunchSpec, events: ProcessEvents): WorkerProcess {
    // The worker's own start timer runs from the zygote's ready (`starting`); this one, a backstop,
    // covers the zygote's load (at most startupTimeout) as well.
    const expectation = this.listener.expect(2 * spec.startupTimeout);
    const tail = new LineTail(STDERR_TAIL_LINES);
    let child: ForkedProcess | undefined;
    let pendingSignal: NodeJS.Signals | undefined;
    let refed = false;
    let done = false;
    const fail = (message: string): void => {
      if (done) return;
      done = true;
      tail.push(`fork server: ${message}`);
      expectation.cancel();
      events.onExit(null, null);
    };
    const sink = {
      line: (stream: 'stdout' | 'stderr', line: string) => {
        if (stream === 'stderr') tail.push(line);
        events.onLine(stream, line);
      },
      exit: (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        // Anything the adapter started in the worker's group goes down with the worker.
        if (child !== undefined) killGroup(child.pid, 'SIGKILL');
        expectation.cancel();
        events.onExit(code, signal);
      },
    };
    const zygote = this.zygote(spec.startupTimeout);
    const starting = zygote.then((life) => life.ready);
    starting.catch(() => {}); // a zygote that fails fails the fork below
    const forked = zygote
      .then((life) => life.fork(spec.workerId, { ...spec.env, ...expectation.env }, sink))
      .then((proc) => {
        child = proc;
        if (refed) proc.ref();
        // Killed before its pid was known (start timeout, destroy): it goes now.
        if (pendingSignal !== undefined) killGroup(proc.pid, 'SIGKILL');
      });
    forked.catch((err: Error) => fail(err.message));
    return {
      get pid() {
        return child?.pid;
      },
      get stderrTail() {
        return tail.text();
      },
      get lostWithZygote() {
        return child?.lostWithZygote === true;
      },
      starting,
      // The worker connects back while the zygote reports its pid on its own channel: either may come
      // first. The channel is handed over once both have, so that the worker is known by its pid (run
      // registry, events) before a byte of its conversation is read.
      channel: Promise.all([expectation.socket, forked]).then(
        ([socket]) => socketChannel(socket),
        (err: unknown) => {
          // A worker that connected but cannot be followed (gone before the host found its pid).
          expectation.socket.then((socket) => socket.destroy(), () => {});
          throw err;
        },
      ),
      noteStderr: (line) => tail.push(line),
      signal: (signal) => {
        if (child === undefined) pendingSignal = signal;
        else if (!child.exited) killGroup(child.pid, signal);
      },
      ref: () => {
        refed = true;
        child?.ref();
      },
      unref: () => {
        refed = false;
        child?.unref();
      },
    };
  }

  /** Stop the zygote (the pool's workers are stopped by then) and remove the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    for (const w of this.waiters.splice(0)) w.reject(new WorkerStartError('the pool closed', { phase: 'forkserver' }));
    const life = this.life;
    if (life !== undefined) {
      // The pool is stopping its workers: the zygote goes once it has reaped them (it reports their
      // exit codes), at the latest after the kill escalation. It stays tracked for process exit.
      life.retire(2 * this.spec.killGrace + 1_000);
    }
    this.listener.close();
  }
}

function socketChannel(socket: net.Socket): Channel {
  return { input: socket, output: socket, ref: () => socket.ref(), unref: () => socket.unref() };
}
