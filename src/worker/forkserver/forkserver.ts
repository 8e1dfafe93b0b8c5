/**
 * The fork server of one pool: the connect-back listener, the zygote, and its supervision. `launch`
 * brings up one worker: a one-time token, a fork request to the zygote, then the worker's connection
 * on the listener. A zygote that dies is reported (`zygoteExit`) and started again with the pool's
 * restart policy (backoff per consecutive failure, the breaker over `restart.window`); workers
 * already running are not touched. While the breaker is open, launches fail at once, so the pool's
 * own supervisor counts failed starts and opens its breaker too.
 */

import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { WorkerStartError } from '../../errors.js';
import type { ResolvedRestartOptions } from '../../options.js';
import { RestartPolicy } from '../../pool/restart-policy.js';
import { trackWorker, untrackWorker } from '../registry.js';
import type { ForkedProcess } from './forked.js';
import { ConnectListener } from './listener.js';
import { ZygoteLife, type ZygoteSpec } from './zygote.js';

export interface ForkServerHooks {
  onZygoteReady(pid: number, loadMs: number, restarts: number): void;
  onZygoteExit(pid: number | undefined, code: number | null, signal: NodeJS.Signals | null, restartInMs: number | null): void;
  onZygoteLog(pid: number | undefined, line: string, stream: 'stdout' | 'stderr'): void;
}

export interface ForkServerSpec extends ZygoteSpec {
  /** Parent folder of the private socket directory (the state directory, else the temp folder). */
  socketParent: string | undefined;
  restart: ResolvedRestartOptions;
  killGrace: number;
}

export interface LaunchedWorker {
  child: ForkedProcess;
  socket: Socket;
}

export class ForkServer {
  private listener: ConnectListener | undefined;
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
  }

  /** Listen and start the first zygote; rejects with its WorkerStartError (preload, import, threads). */
  async start(): Promise<void> {
    this.listener = await ConnectListener.open(this.spec.socketParent ?? tmpdir());
    const life = this.spawn();
    await life.ready;
    this.hooks.onZygoteReady(life.pid!, life.loadMs, 0);
  }

  get zygotePid(): number | undefined {
    return this.life?.exited === false ? this.life.pid : undefined;
  }

  private spawn(): ZygoteLife {
    const life = new ZygoteLife(
      this.spec,
      (l, code, signal) => this.onLifeExit(l, code, signal),
      (line, stream) => this.hooks.onZygoteLog(life.pid, line, stream),
    );
    this.life = life;
    trackWorker(life);
    return life;
  }

  private onLifeExit(life: ZygoteLife, code: number | null, signal: NodeJS.Signals | null): void {
    untrackWorker(life);
    if (this.closed || life.isStopping || life !== this.life) return;
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

  /** The zygote once it is ready (waiting for a restart under way, at most `timeoutMs`). */
  private zygote(timeoutMs: number): Promise<ZygoteLife> {
    const life = this.life;
    if (this.closed) return Promise.reject(new WorkerStartError('the pool closed', { phase: 'forkserver' }));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (life !== undefined && !life.exited) return life.ready.then(() => life);
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
   * Fork worker `workerId` with its SNAKEPIT_* settings `env`; resolves once it has connected back.
   * Rejects when the zygote cannot fork, or the worker dies or stays silent for `timeoutMs`.
   */
  async launch(workerId: number, env: Record<string, string>, timeoutMs: number): Promise<LaunchedWorker> {
    const listener = this.listener;
    if (listener === undefined) throw new WorkerStartError('the fork server is not started', { phase: 'forkserver' });
    const life = await this.zygote(timeoutMs);
    const token = ConnectListener.token();
    const connected = listener.expect(token, timeoutMs);
    connected.catch(() => {});
    let child: ForkedProcess;
    try {
      child = await life.fork(workerId, {
        ...env,
        SNAKEPIT_CONNECT: listener.path,
        SNAKEPIT_TOKEN: token,
      });
    } catch (err) {
      listener.forget(token, err as Error);
      throw new WorkerStartError(`worker ${workerId}: ${(err as Error).message}`, { workerId, phase: 'forkserver', cause: err });
    }
    const early = (code: number | null, signal: NodeJS.Signals | null): void => {
      const why = signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
      listener.forget(token, new Error(`worker ${workerId} (pid ${child.pid}) ${why} before it connected`));
    };
    child.once('exit', early);
    try {
      const socket = await connected;
      child.off('exit', early);
      return { child, socket };
    } catch (err) {
      child.off('exit', early);
      const tail = child.stderrTail;
      throw new WorkerStartError(`${(err as Error).message}${tail ? `\n--- stderr ---\n${tail}` : ''}`, {
        workerId,
        pid: child.pid,
        phase: 'start',
        stderrTail: tail,
      });
    }
  }

  /** Stop the zygote (the pool's workers are stopped by then) and remove the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    for (const w of this.waiters.splice(0)) w.reject(new WorkerStartError('the pool closed', { phase: 'forkserver' }));
    const life = this.life;
    if (life !== undefined) {
      await life.stop(this.spec.killGrace);
      untrackWorker(life);
    }
    this.listener?.close();
  }

  /** SIGKILL the zygote's group now (host exit, destroy). */
  killNow(): void {
    this.life?.killNow();
  }
}
