/**
 * One run of a pool, from `Pool.start` to close or destroy: what the pool holds besides its workers
 * (the transport they are launched through, the fork server's in startMethod 'forkserver'; the run
 * registry that records their pids on disk, after reaping what hosts that died left behind; the host
 * signal handlers), and the order in which start takes it up and close and destroy let it go.
 * PoolCore (core.ts) admits and dispatches the calls; this is its startup and shutdown.
 */

import { availableParallelism } from 'node:os';
import { PoolClosedError, type SnakepitError } from '../errors.js';
import type { PoolEventMap, PoolState } from '../events.js';
import { handleSignalsFor, releaseSignals } from '../host-signals.js';
import { stateRule } from './state.js';
import { holdTimerList } from './timer-list.js';
import type { AuditLog } from '../audit/audit-log.js';
import { checkSandbox } from '../security/sandbox.js';
import { endRun, killRunProcesses, newRunId, reapDeadRuns, RunRegistry, type ReapReport } from '../worker/run-registry.js';
import type { ResolvedPoolOptions } from '../options.js';
import type { WorkerHandle, WorkerSpec } from '../worker/worker.js';
import { settingsEnv } from '../worker/env.js';
import { createTransport } from '../transport/select.js';
import type { ForkServerTransport } from '../transport/forkserver.js';
import type { Transport } from '../transport/transport.js';
import type { Scheduler } from '../scheduling/scheduler.js';
import type { Supervisor } from '../supervision/supervisor.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { Call } from './call.js';
import { forkServerTransport } from './fork-server.js';
import { workerEnv } from './python-calls.js';
import type { SessionManager } from './session-manager.js';

/** What a run needs from the pool (PoolCore). */
export interface RunHost {
  readonly options: ResolvedPoolOptions;
  readonly workers: readonly WorkerHandle[];
  readonly state: PoolState;
  setState(to: PoolState, reason?: string): void;
  publish<K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]): void;
  readonly scheduler: Scheduler<Call>;
  readonly sessions: SessionManager;
  readonly telemetry: Telemetry;
  readonly audit: AuditLog | undefined;
  /** Reject every queued call with `error`. */
  failQueued(error: SnakepitError): void;
  /** Resolves once no call is queued or in flight (as `drained` says, asked at each change). */
  drain(): Promise<void>;
  /** Let whoever waits for the drain go (destroy). */
  stopDraining(): void;
}

export class PoolRun {
  readonly id = newRunId();
  readonly transport: Transport;
  /** Fork-server mode: the transport that forks the workers from a zygote (fork-server.ts). */
  readonly forkServer: ForkServerTransport | undefined;
  private registry: RunRegistry | undefined;
  private report: ReapReport | undefined;
  private closing: Promise<void> | undefined;
  /** Lets go of Node's timer list for the calls' default deadline (timer-list.ts). */
  private releaseTimerList: () => void = () => {};

  constructor(
    private readonly host: RunHost,
    private readonly supervisor: Supervisor,
  ) {
    const { options } = host;
    if (options.startMethod === 'forkserver') {
      this.forkServer = forkServerTransport(options, this.id, () => this.registry, (n, e) => host.publish(n, e));
      this.transport = this.forkServer;
    } else {
      this.transport = createTransport(options.transport, options.stateDir);
    }
  }

  private get options(): ResolvedPoolOptions {
    return this.host.options;
  }

  /** Processes of hosts that died that this run killed when it started (stats). */
  get reaped(): number {
    return this.report?.killed.length ?? 0;
  }

  /** What worker `id` of this run is launched with. */
  workerSpec(id: number): WorkerSpec {
    const o = this.options;
    return {
      id,
      python: o.python,
      adapter: o.adapter,
      cwd: o.cwd,
      env: { ...workerEnv(o), ...settingsEnv({ ...o, workerId: id, runId: this.id }) },
      concurrency: o.concurrency,
      maxPayload: o.maxPayload,
      codecs: o.codecs,
      startupTimeout: o.startupTimeout,
      killGrace: o.killGrace,
      int64: o.int64,
      pythonReason: o.pythonReason,
      sandbox: o.sandbox,
    };
  }

  /** A worker's process has a pid: record it in the run registry. */
  spawned(pid: number): void {
    this.registry?.add(pid);
  }

  /** A worker's process has exited: it leaves the run registry. */
  exited(pid: number): void {
    this.registry?.remove(pid);
  }

  // ------------------------------------------------------------------ startup

  async start(): Promise<void> {
    const { host, supervisor } = this;
    const { size, startupConcurrency, stateDir } = this.options;
    if (this.options.sandbox !== undefined) checkSandbox(this.options.sandbox); // never unconfined instead
    // Pids are recorded from the first spawn on; the run's file is written once the first workers are
    // spawned (below), so that the disk work overlaps their start instead of delaying it.
    const registry = stateDir === false ? undefined : new RunRegistry(stateDir, this.id);
    this.registry = registry;
    try {
      await this.transport.open();
    } catch (err) {
      host.setState('failed', 'transport failed');
      this.registry?.close();
      this.releaseTimerList();
      throw err;
    }
    // A fork server's first zygote is still importing: the workers are set up meanwhile and fork
    // once it is ready; if it cannot start, its error is the start's (not its workers' echo of it).
    const zygote = this.forkServer?.firstZygote.then(
      () => undefined,
      (reason: unknown) => ({ reason }),
    );
    // Workers start `startupConcurrency` at a time: first `minReady` of them (all, by default), which
    // Pool.start waits for (one that fails fails the start), then the others, once it has resolved.
    const { minReady } = this.options;
    let failure: { reason: unknown } | undefined;
    let next = 0;
    const startUpTo = (end: number, lanes = startupConcurrency): Promise<unknown> => {
      const startOne = async (): Promise<void> => {
        while (next < end && (host.state === 'starting' || stateRule(host.state).accepts)) {
          try {
            await supervisor.startInitial(next++);
          } catch (err) {
            if (host.state !== 'starting') continue; // after Pool.start resolved: the supervisor restarts it
            failure ??= { reason: err };
            return;
          }
        }
      };
      return Promise.all(Array.from({ length: Math.min(end - next, lanes) }, startOne));
    };
    const first = startUpTo(minReady);
    // The first workers are launched by now (startUpTo launches before its first await): what they do
    // not need runs while their interpreters start.
    this.releaseTimerList = holdTimerList(this.options.timeout);
    if (registry !== undefined && stateDir !== false) {
      // Reap what hosts that died left behind (their recorded pids are checked against their start
      // times, so a pid reused by a worker just spawned is never taken for theirs), then record this run.
      this.report = reapDeadRuns(stateDir);
      if (!registry.open()) this.registry = undefined;
    }
    // `@opentelemetry/api` loads while the workers start, once they are spawned: a worker takes far
    // longer to become ready than the import, and no call is traced before the pool is ready.
    const telemetry = host.telemetry.start();
    await first;
    await telemetry;
    const zygoteFailure = await zygote;
    if (zygoteFailure !== undefined && host.state === 'starting') failure = zygoteFailure;
    if (failure !== undefined || host.state !== 'starting') {
      supervisor.stop();
      if (host.state !== 'closed') host.setState('failed', 'start failed');
      await Promise.all(host.workers.map((w) => w.kill('start-failed')));
      this.transport.close();
      this.registry?.close();
      this.releaseTimerList();
      throw failure?.reason ?? new PoolClosedError('pool was destroyed while it started');
    }
    host.setState('ready');
    supervisor.begin();
    if (this.options.handleSignals) handleSignalsFor(this);
    // The others start once the caller has had its turn (its first calls go out before their spawns),
    // and spawned ones fewer at a time (fillLanes): the pool serves meanwhile.
    const lanes = this.forkServer === undefined ? fillLanes(startupConcurrency) : startupConcurrency;
    setImmediate(() => void startUpTo(size, lanes).then(() => supervisor.endInitial()));
  }

  /** Before a reload replaces the workers: fork them from a fresh zygote that imports the new code. */
  async beforeReload(): Promise<void> {
    const o = this.options;
    await this.forkServer?.renew(o.recycleWait + 2 * o.killGrace + o.startupTimeout);
  }

  // ------------------------------------------------------------------ stopping

  close(): Promise<void> {
    const { host } = this;
    if (this.closing !== undefined) return this.closing;
    if (host.state === 'closed') return Promise.resolve();
    if (host.state === 'failed') host.failQueued(new PoolClosedError('pool closed'));
    host.setState('draining');
    this.closing = host.drain().then(async () => {
      host.sessions.closeAll();
      this.supervisor.stop();
      await Promise.all(host.workers.map((w) => w.shutdown()));
      this.finishClose();
    });
    return this.closing;
  }

  private finishClose(): void {
    this.supervisor.stop();
    // The fork server's zygote is spared: it reaps the workers being stopped, then goes (forkserver.ts).
    const zygote = this.forkServer?.zygotePid;
    this.transport.close();
    endRun(this.id, zygote === undefined ? [] : [zygote]); // grandchildren in sessions of their own (run-registry.ts)
    this.registry?.close();
    this.host.audit?.close();
    this.releaseTimerList();
    releaseSignals(this);
    this.host.setState('closed');
  }

  /**
   * Whether a closing pool has nothing left to wait for: no call queued or in flight. Queued calls
   * that no worker is left to run fail here rather than wait forever.
   */
  drained(): boolean {
    const { scheduler, workers } = this.host;
    if (scheduler.queued > 0) {
      if (workers.length === 0 && !this.supervisor.restartPending()) {
        // Nothing can run what is left: fail it rather than wait forever.
        const error = new PoolClosedError('pool closed with no worker left to run queued calls');
        scheduler.failAll(error);
      } else {
        return false;
      }
    }
    return !workers.some((w) => w.pending.size > 0);
  }

  /** SIGKILL every worker's process group synchronously (host signals, process exit). */
  killNow(): void {
    for (const worker of this.host.workers) worker.killNow();
    killRunProcesses(this.id);
  }

  async destroy(): Promise<void> {
    const { host } = this;
    if (host.state === 'closed' && this.closing === undefined) return;
    this.supervisor.stop();
    if (host.state !== 'closed') this.finishClose();
    const error = new PoolClosedError('pool was destroyed');
    host.scheduler.failAll(error);
    host.sessions.closeAll();
    for (const worker of host.workers) {
      for (const sink of worker.pending.values()) (sink as Call).fail(error);
    }
    await Promise.all(host.workers.map((w) => w.kill('killed')));
    endRun(this.id);
    host.stopDraining();
  }
}

/**
 * How many spawned workers start at once after `Pool.start` resolved with `minReady` below `size`: one
 * CPU fewer than the machine has (at least one, at most `startupConcurrency`). An interpreter starting
 * takes a whole CPU for tens of milliseconds; with one starting on every CPU, the workers already
 * serving and the host waited their turn: on 2 CPUs with 4 workers and `minReady: 1`, a first call took
 * 25.4 ms after `Pool.start` resolved against 3.0 ms with one start at a time (medians,
 * docs/architecture.md). Forked workers cost little to start and are not limited.
 */
function fillLanes(startupConcurrency: number): number {
  return Math.max(1, Math.min(startupConcurrency, availableParallelism() - 1));
}
