/**
 * The pool's implementation: workers, the queue, dispatch to the least-loaded ready worker,
 * lifecycle and statistics. Replacement of dead workers, heartbeats and recycling live in
 * supervisor.ts; retries of idempotent calls in retry.ts. `Pool` (pool.ts) is its public face.
 */

import { EventEmitter } from 'node:events';
import {
  InvalidArgumentsError,
  NotStreamingError,
  PoolClosedError,
  PoolFailedError,
  PoolSaturatedError,
  SnakepitError,
  ToolNotFoundError,
  type ErrorCode,
} from '../errors.js';
import { channels, type LogEvent, type PoolEvent, type PoolEventMap, type PoolState } from '../events.js';
import { handleSignalsFor, releaseSignals } from '../host-signals.js';
import { AuditLog } from '../audit/audit-log.js';
import { checkSandbox } from '../security/sandbox.js';
import { endRun, killRunProcesses, newRunId, reapDeadRuns, RunRegistry, type ReapReport } from '../worker/run-registry.js';
import { checkCallOptions, type ExecuteOptions, type ResolvedPoolOptions, type StreamOptions } from '../options.js';
import { fromWireError } from '../protocol/wire-errors.js';
import { Msg, type WireError } from '../protocol/messages.js';
import type { Frame } from '../protocol/frames.js';
import { WorkerHandle, type CallSink, type ExitInfo, type LogStream, type WorkerHooks } from '../worker/worker.js';
import { Call, type CallConsumer, type CallHost } from './call.js';
import { Histogram } from './histogram.js';
import { CallQueue } from './queue.js';
import { ToolStream } from './stream.js';
import { toolInfo, type ToolInfo } from './tools.js';
import { checkArguments } from './argument-check.js';
import type { PoolStats } from './stats.js';
// Sessions, references, allowlisted calls and host tools.
import { HostCalls, HostToolRegistry, currentHostCall, nestedBlocked, nestedLimits } from './host-tools.js';
import type { CallRoute, SessionCore } from './session.js';
import { SessionManager, type SessionHost } from './session-manager.js';
import { workerEnv } from './python-calls.js';
// Supervision: restarts, heartbeats, recycling, retries.
import { isMemoryError } from './recycle.js';
import { lostCallOutcome } from './retry.js';
import { Supervisor, type SupervisorHost } from './supervisor.js';
// Telemetry: spans, metrics, tracing channel, logs (src/telemetry).
import { Telemetry } from '../telemetry/telemetry.js';

let jsonFallbackWarned = false;

/** The catalogue entry of the built-in tools (`$python.*`, `$ref.*`), which are never streams. */
const BUILTIN_INFO: ToolInfo = Object.freeze({ name: '$builtin', doc: '', parameters: [], returns: null, async: false, stream: false });

export class PoolCore implements CallHost, WorkerHooks, SessionHost, SupervisorHost {
  state: PoolState = 'starting';
  readonly workers: WorkerHandle[] = [];
  private catalogue = new Map<string, ToolInfo>();
  private readonly queue = new CallQueue<Call>();
  private nextCallId = 1;
  private nextWorkerId = 1;
  private drained: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  // supervision (supervisor.ts), run registry and host signals
  private readonly supervisor: Supervisor;
  readonly runId = newRunId();
  private registry: RunRegistry | undefined;
  /** options.audit (src/audit/): every settled call is recorded. */
  readonly audit: AuditLog | undefined;
  private reaped: ReapReport | undefined;
  private retried = 0;

  // statistics
  private submitted = 0;
  private succeeded = 0;
  private failed = 0;
  private readonly failedByCode: Partial<Record<ErrorCode, number>> = {};
  private readonly waitTime = new Histogram();
  private readonly runTime = new Histogram();
  private crashes = 0;

  // sessions and host tools
  readonly sessions = new SessionManager(this);
  readonly hostTools = new HostToolRegistry();
  private readonly hostCalls = new HostCalls(this);
  readonly telemetry: Telemetry;
  /** Bytes sent to and received from workers that have exited. */
  private readonly exitedBytes = { sent: 0, received: 0 };

  constructor(
    readonly options: ResolvedPoolOptions,
    private readonly emitter: EventEmitter<PoolEventMap>,
  ) {
    this.supervisor = new Supervisor(this);
    this.telemetry = new Telemetry({ stats: () => this.stats(), bytes: () => this.bytes() }, options.logs);
    this.audit = options.audit === undefined ? undefined : new AuditLog(options.audit);
  }

  get cancelGrace(): number {
    return this.options.cancelGrace;
  }

  get queued(): number {
    return this.queue.length;
  }

  // ------------------------------------------------------------------ startup

  async start(): Promise<void> {
    const { size, startupConcurrency, stateDir } = this.options;
    if (this.options.sandbox !== undefined) checkSandbox(this.options.sandbox); // never unconfined instead
    await this.telemetry.start();
    if (stateDir !== false) {
      // Reap what hosts that died left behind, then record this run.
      this.reaped = reapDeadRuns(stateDir);
      const registry = new RunRegistry(stateDir, this.runId);
      if (registry.open()) this.registry = registry;
    }
    const started: Promise<void>[] = [];
    let next = 0;
    const startOne = async (): Promise<void> => {
      while (next < size && this.state === 'starting') {
        await this.supervisor.startInitial(next++);
      }
    };
    for (let i = 0; i < Math.min(size, startupConcurrency); i++) started.push(startOne());
    const results = await Promise.allSettled(started);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined || this.state !== 'starting') {
      this.supervisor.stop();
      if (this.state !== 'closed') this.setState('failed', 'start failed');
      await Promise.all(this.workers.map((w) => w.kill('start-failed')));
      this.registry?.close();
      throw failure?.reason ?? new PoolClosedError('pool was destroyed while it started');
    }
    this.setState('ready');
    this.supervisor.begin();
    if (this.options.handleSignals) handleSignalsFor(this);
  }

  /** Create a worker (not started) and add it to the list; the supervisor starts it. */
  createWorker(): WorkerHandle {
    const o = this.options;
    const worker = new WorkerHandle(
      {
        id: this.nextWorkerId++,
        python: o.python,
        adapter: o.adapter,
        cwd: o.cwd,
        env: workerEnv(o),
        concurrency: o.concurrency,
        maxPayload: o.maxPayload,
        codecs: o.codecs,
        startupTimeout: o.startupTimeout,
        killGrace: o.killGrace,
        memoryLimit: o.memoryLimit,
        runId: this.runId,
        int64: o.int64,
        pythonReason: o.pythonReason,
        sandbox: o.sandbox,
      },
      this,
    );
    this.workers.push(worker);
    return worker;
  }

  /** A worker said hello and answered its first ping (called by the supervisor). */
  workerReady(worker: WorkerHandle): void {
    const info = worker.info!;
    if (this.catalogue.size === 0) {
      for (const tool of info.tools) this.catalogue.set(tool.name, toolInfo(tool));
    }
    if (info.codec === 'json' && this.options.codecs[0] === 'msgpack' && !jsonFallbackWarned) {
      jsonFallbackWarned = true;
      process.emitWarning(
        `the worker's Python (${this.options.python}) has no msgpack module; using the slower JSON codec. ` +
          'Install msgpack in that environment for native binary transfer.',
        { code: 'SNAKEPIT_JSON_FALLBACK' },
      );
    }
    this.publish('workerReady', {
      type: 'workerReady',
      workerId: worker.id,
      pid: worker.pid!,
      python: info.python,
      codec: info.codec,
      startMs: Math.round(performance.now() - worker.startedAt),
    });
    if (this.state !== 'starting') this.sessions.onWorkerReady(worker);
    if (this.state !== 'starting') {
      this.pump();
      this.slotListener?.();
    }
  }

  // ----------------------------------------------------------------- calling

  private admit(tool: unknown, args: unknown, wantStream: boolean, collect: boolean, route?: CallRoute): ToolInfo {
    if (this.state !== 'ready' && this.state !== 'degraded') {
      if (this.state === 'failed') throw this.supervisor.failure ?? new PoolFailedError('pool has failed');
      throw new PoolClosedError(`pool is ${this.state}; no new calls are accepted`);
    }
    if (typeof tool !== 'string') throw new InvalidArgumentsError(`tool name must be a string, got ${typeof tool}`);
    const info = route?.builtin === true ? BUILTIN_INFO : this.catalogue.get(tool);
    if (info === undefined) throw new ToolNotFoundError(tool, this.toolNames());
    if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
      throw new InvalidArgumentsError(`arguments of ${tool} must be an object of keyword arguments`, { tool });
    }
    if (info.stream && !wantStream && !collect) {
      throw new NotStreamingError(`tool ${tool} is a generator: consume it with pool.stream(), or pass { collect: true } to execute`, { tool });
    }
    if (!info.stream && wantStream) {
      throw new NotStreamingError(`tool ${tool} is not a generator: call it with pool.execute()`, { tool });
    }
    if (this.options.checkArguments) checkArguments(info, args as Record<string, unknown> | undefined);
    return info;
  }

  execute(tool: string, args: Record<string, unknown> | undefined, opts?: ExecuteOptions, route?: CallRoute): Promise<unknown> {
    let info: ToolInfo;
    let timeout: number;
    try {
      timeout = checkCallOptions(opts, this.options.timeout);
      info = this.admit(tool, args, false, opts?.collect === true, route);
    } catch (err) {
      return Promise.reject(err);
    }
    if (info.stream) {
      const stream = this.openStream(tool, args, timeout, opts as StreamOptions | undefined, route);
      return (async () => {
        const out: unknown[] = [];
        for await (const chunk of stream) out.push(chunk);
        return out;
      })();
    }
    return new Promise((resolve, reject) => {
      const consumer: CallConsumer = { value: resolve, chunk() {}, end() {}, fail: reject };
      const call = this.makeCall(tool, args, timeout, 0, opts?.signal, consumer, route?.session);
      call.idempotent = opts?.idempotent === true;
      call.principal = opts?.principal;
      this.submit(call);
    });
  }

  stream<T>(tool: string, args: Record<string, unknown> | undefined, opts?: StreamOptions, route?: CallRoute): ToolStream<T> {
    const timeout = checkCallOptions(opts, this.options.timeout);
    this.admit(tool, args, true, false, route);
    return this.openStream<T>(tool, args, timeout, opts, route);
  }

  private openStream<T>(
    tool: string,
    args: Record<string, unknown> | undefined,
    timeout: number,
    opts: StreamOptions | undefined,
    route?: CallRoute,
  ): ToolStream<T> {
    const window = opts?.window ?? this.options.streamWindow;
    let call: Call | undefined;
    const stream = new ToolStream<T>(window, opts?.idleTimeout ?? 0, (n) => call?.worker?.credit(call.id, n));
    call = this.makeCall(tool, args, timeout, window, opts?.signal, stream, route?.session);
    call.idempotent = opts?.idempotent === true;
    call.principal = opts?.principal;
    stream.attach(call);
    this.submit(call);
    return stream;
  }

  /**
   * A new call: in a session its consumer sees handles for references and SESSION_LOST for a crash;
   * made from a host tool it inherits the calling call's deadline and signal, and never queues.
   */
  private makeCall(
    tool: string,
    args: Record<string, unknown> | undefined,
    timeout: number,
    window: number,
    signal: AbortSignal | undefined,
    consumer: CallConsumer,
    session: SessionCore | undefined,
  ): Call {
    const parent = currentHostCall();
    if (parent !== undefined) ({ timeout, signal } = nestedLimits(parent, timeout, signal));
    const sink = session === undefined ? consumer : session.wrap(consumer);
    const call = new Call(this, this.nextCallId++, tool, args ?? {}, timeout, window, signal, sink);
    call.session = session;
    call.nested = parent !== undefined;
    return call;
  }

  private submit(call: Call): void {
    this.submitted++;
    if (call.settled) return; // aborted before submission
    this.telemetry.submitted(call);
    if (call.session !== undefined) {
      this.sessions.submit(call);
      return;
    }
    if (this.queue.length === 0 || call.nested) {
      const worker = this.pickWorker();
      if (worker !== undefined) {
        this.dispatch(call, worker);
        return;
      }
    }
    if (call.nested) {
      call.fail(nestedBlocked(call.tool, 'any worker', { requestId: call.id }));
      return;
    }
    if (this.queue.length + this.sessions.queued >= this.options.maxQueue) {
      call.fail(new PoolSaturatedError(this.options.maxQueue, { requestId: call.id }));
      return;
    }
    this.queue.push(call);
    call.armQueueTimeout(this.options.queueTimeout);
  }

  private pickWorker(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestFree = 0;
    for (const worker of this.workers) {
      const free = worker.free;
      if (free > bestFree) {
        best = worker;
        bestFree = free;
      }
    }
    return best;
  }

  /** Send `call` to `worker` (which has a free slot). Used by the session layer too. */
  dispatch(call: Call, worker: WorkerHandle): void {
    let frame: Frame;
    try {
      const session = call.session?.id ?? null;
      const message: unknown[] = [Msg.CALL, call.id, call.tool, call.args, call.remainingMs(), session, call.window];
      const trace = this.telemetry.dispatching(call, worker.id, worker.pid);
      if (trace !== undefined) message.push(trace);
      frame = worker.encode(
        message,
        `arguments of ${call.tool}`,
        { tool: call.tool, requestId: call.id },
      );
    } catch (err) {
      call.fail(err as SnakepitError);
      return;
    }
    call.markDispatched(worker);
    this.waitTime.record(call.dispatchedAt - call.submittedAt);
    try {
      worker.dispatch(call, frame);
    } catch (err) {
      call.fail(err as SnakepitError);
    }
  }

  /** Hand queued calls to workers with free slots. */
  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.pickWorker();
      if (worker === undefined) break;
      const call = this.queue.shift();
      if (call === undefined) break;
      if (!call.settled) this.dispatch(call, worker);
    }
    this.checkDrained();
  }

  unqueue(call: Call): boolean {
    return call.session !== undefined ? this.sessions.unqueue(call) : this.queue.remove(call);
  }

  get queuedCalls(): number {
    return this.queue.length;
  }

  openPrivateSession(): SessionCore {
    return this.sessions.openPrivate();
  }

  wireError(call: Call, wire: WireError): SnakepitError {
    // A worker out of memory is replaced once it has answered (supervisor.ts, recycle.ts).
    if (wire?.kind === 'python_error' && isMemoryError(wire.type)) this.supervisor.onMemoryError(call.worker);
    return fromWireError(wire, call.tool, () => this.toolNames(), {
      requestId: call.id,
      workerId: call.worker?.id,
      pid: call.worker?.pid,
    });
  }

  /** The call's worker died with the call in flight: retry it (idempotent calls) or settle it. */
  onLost(call: Call, error: SnakepitError): SnakepitError | undefined {
    const canQueue = this.state === 'ready' || this.state === 'degraded' || this.state === 'draining';
    const outcome = lostCallOutcome(call, error, this.options.retries, canQueue);
    if (!outcome.retry) return outcome.error;
    this.retried++;
    call.prepareRetry();
    this.queue.unshift(call);
    return undefined;
  }

  /** Reject every queued call with `error` (the breaker opened). */
  failQueued(error: SnakepitError): void {
    for (const call of this.queue.drain()) call.fail(error);
    this.sessions.failAllQueued(error);
  }

  recordSettled(call: Call, error: SnakepitError | undefined): void {
    this.telemetry.settled(call, error);
    this.audit?.settled(call, error);
    if (call.dispatchedAt > 0) this.runTime.record(performance.now() - call.dispatchedAt);
    if (error === undefined) {
      this.succeeded++;
    } else {
      this.failed++;
      this.failedByCode[error.code] = (this.failedByCode[error.code] ?? 0) + 1;
    }
  }

  // ------------------------------------------------------------ worker hooks

  onSpawn(worker: WorkerHandle): void {
    this.registry?.add(worker.pid!);
    this.publish('workerSpawn', { type: 'workerSpawn', workerId: worker.id, pid: worker.pid! });
  }

  onSettled(worker: WorkerHandle, _sink: CallSink): void {
    this.supervisor.afterSettle(worker);
    if (this.sessions.queued > 0) this.sessions.onSlotFree(worker);
    if (this.queue.length > 0) this.pump();
    else if (this.drained !== undefined) this.checkDrained();
    this.slotListener?.();
  }

  /** The serving layer (src/serving) is told when a slot may have freed, to send what it holds. */
  slotListener: (() => void) | undefined;

  /** Whether a call submitted now would start at once: nothing queued and a worker with a free slot. */
  hasFreeSlot(): boolean {
    return this.queue.length === 0 && this.pickWorker() !== undefined;
  }

  onExit(worker: WorkerHandle, info: ExitInfo): void {
    const index = this.workers.indexOf(worker);
    if (index !== -1) this.workers.splice(index, 1);
    this.sessions.onWorkerExit(worker);
    if (worker.pid !== undefined) this.registry?.remove(worker.pid);
    this.exitedBytes.sent += worker.bytesOut;
    this.exitedBytes.received += worker.bytesIn;
    this.publish('workerExit', {
      type: 'workerExit',
      workerId: worker.id,
      pid: worker.pid,
      code: info.code,
      signal: info.signal,
      reason: info.reason,
      lostCalls: info.lostCalls ?? 0,
    });
    const unexpected = info.reason !== 'shutdown' && info.reason !== 'killed' && info.reason !== 'recycled';
    if (unexpected && worker.readyAt > 0) this.crashes++;
    this.supervisor.onExit(worker, info);
    // Calls taken back for a retry wait in the queue: give them to the workers that remain.
    if (this.queue.length > 0) this.pump();
    this.checkDrained();
  }

  onHostCall(worker: WorkerHandle, id: number, parent: number, tool: string, args: Record<string, unknown>, trace?: unknown): void {
    this.hostCalls.handle(worker, id, parent, tool, args, trace);
  }

  onLog(worker: WorkerHandle, stream: LogStream, line: string, level?: string, requestId?: number, logger?: string, exception?: string): void {
    const published = this.emitter.listenerCount('log') > 0 || channels.log.hasSubscribers;
    if (!published && !this.telemetry.logs.always) return;
    // A line printed inside a call comes as a log frame of level stdout or stderr (python logs.py).
    if (stream === 'worker' && (level === 'stdout' || level === 'stderr')) stream = level;
    const event: LogEvent = {
      type: 'log',
      workerId: worker.id,
      pid: worker.pid,
      stream,
      line,
      level: level === 'stdout' || level === undefined ? (stream === 'stderr' ? 'stderr' : 'info') : level,
      requestId: requestId ?? undefined,
    };
    if (logger != null) event.logger = logger;
    if (exception != null) event.exception = exception;
    this.telemetry.log(event);
    if (published) this.publish('log', event);
  }

  /** Bytes written to and read from workers since the pool started. */
  bytes(): { sent: number; received: number } {
    let { sent, received } = this.exitedBytes;
    for (const w of this.workers) {
      sent += w.bytesOut;
      received += w.bytesIn;
    }
    return { sent, received };
  }

  // ------------------------------------------------------------- supervision

  /** Replace worker `workerId` by a fresh one with drain; resolves once the old worker has exited. */
  recycle(workerId: number): Promise<void> {
    const worker = this.workers.find((w) => w.id === workerId);
    if (worker === undefined) {
      const ids = this.workers.map((w) => w.id).join(', ') || '(none)';
      return Promise.reject(new InvalidArgumentsError(`no worker with id ${String(workerId)} (workers: ${ids})`));
    }
    // Asked for explicitly: the worker's sessions end now, each reporting SESSION_LOST ('recycled').
    this.sessions.loseSessions(worker, 'recycled');
    return this.supervisor.recycle(worker, 'manual');
  }

  hasLiveSessions(worker: WorkerHandle): boolean {
    return this.sessions.hasLiveSessions(worker);
  }

  loseSessions(worker: WorkerHandle): void {
    this.sessions.loseSessions(worker, 'recycled');
  }

  // ------------------------------------------------------------------ stopping

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.state === 'closed') return Promise.resolve();
    if (this.state === 'failed') this.failQueued(new PoolClosedError('pool closed'));
    this.setState('draining');
    this.closing = new Promise<void>((resolve) => {
      this.drained = resolve;
      this.checkDrained();
    }).then(async () => {
      this.sessions.closeAll();
      this.supervisor.stop();
      await Promise.all(this.workers.map((w) => w.shutdown()));
      this.finishClose();
    });
    return this.closing;
  }

  private finishClose(): void {
    this.supervisor.stop();
    endRun(this.runId); // grandchildren in sessions of their own (run-registry.ts)
    this.registry?.close();
    this.audit?.close();
    releaseSignals(this);
    this.setState('closed');
  }

  /** SIGKILL every worker's process group synchronously (host signals, process exit). */
  killNow(): void {
    for (const worker of this.workers) worker.killNow();
    killRunProcesses(this.runId);
  }

  private checkDrained(): void {
    if (this.drained === undefined) return;
    if (this.queue.length > 0 || this.sessions.queued > 0) {
      if (this.workers.length === 0 && !this.supervisor.restartPending()) {
        // Nothing can run what is left: fail it rather than wait forever.
        const error = new PoolClosedError('pool closed with no worker left to run queued calls');
        for (const call of this.queue.drain()) call.fail(error);
        this.sessions.failAllQueued(error);
      } else {
        return;
      }
    }
    if (this.workers.some((w) => w.pending.size > 0)) return;
    const done = this.drained;
    this.drained = undefined;
    done();
  }

  async destroy(): Promise<void> {
    if (this.state === 'closed' && this.closing === undefined) return;
    this.supervisor.stop();
    if (this.state !== 'closed') this.finishClose();
    const error = new PoolClosedError('pool was destroyed');
    for (const call of this.queue.drain()) call.fail(error);
    this.sessions.failAllQueued(error);
    this.sessions.closeAll();
    for (const worker of this.workers) {
      for (const sink of worker.pending.values()) (sink as Call).fail(error);
    }
    await Promise.all(this.workers.map((w) => w.kill('killed')));
    endRun(this.runId);
    const done = this.drained;
    this.drained = undefined;
    done?.();
  }

  // --------------------------------------------------------------- reporting

  setState(to: PoolState, reason?: string): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.publish('poolState', reason === undefined ? { type: 'poolState', from, to } : { type: 'poolState', from, to, reason });
  }

  publish<K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]): void {
    if (name !== 'log') this.telemetry.event(event);
    const channel = channels[name];
    if (channel.hasSubscribers) channel.publish(event);
    if (this.emitter.listenerCount(name) > 0) {
      (this.emitter.emit as (n: string, e: PoolEvent) => boolean)(name, event);
    }
  }

  toolNames(): string[] {
    return [...this.catalogue.keys()].sort();
  }

  tools(): ToolInfo[] {
    return [...this.catalogue.values()];
  }

  /** After a reload: the catalogue of the newest ready worker (the adapter may have changed). */
  refreshCatalogue(): void {
    const newest = [...this.workers].reverse().find((w) => w.state === 'ready' && !w.retiring && w.info !== undefined);
    if (newest !== undefined) this.catalogue = new Map(newest.info!.tools.map((t) => [t.name, toolInfo(t)]));
  }

  stats(): PoolStats {
    const byState = { starting: 0, ready: 0, busy: 0, stopping: 0, retiring: 0 };
    let inFlight = 0;
    const workers = this.workers.map((w) => {
      inFlight += w.pending.size;
      if (w.state === 'ready' && w.retiring) byState.retiring++;
      else if (w.state === 'ready') {
        if (w.pending.size > 0) byState.busy++;
        byState.ready++;
      } else if (w.state === 'starting') byState.starting++;
      else if (w.state === 'stopping') byState.stopping++;
      return Object.freeze({
        id: w.id,
        pid: w.pid,
        state: w.retiring && w.state === 'ready' ? 'retiring' : w.state,
        inFlight: w.pending.size,
        completed: w.completed,
        codec: w.info?.codec,
        heartbeatRtt: w.heartbeat.lastRtt,
      });
    });
    return Object.freeze({
      state: this.state,
      size: this.options.size,
      workers: Object.freeze(byState),
      workerList: Object.freeze(workers),
      inFlight,
      queued: this.queue.length,
      peakQueued: this.queue.peak,
      submitted: this.submitted,
      succeeded: this.succeeded,
      failed: this.failed,
      failedByCode: Object.freeze({ ...this.failedByCode }),
      crashes: this.crashes,
      restarts: this.supervisor.restarts,
      pendingRestarts: this.supervisor.pendingRestarts,
      recycles: this.supervisor.recycles,
      wedged: this.supervisor.wedged,
      breakerTrips: this.supervisor.breakerTrips,
      retries: this.retried,
      reaped: this.reaped?.killed.length ?? 0,
      waitTime: this.waitTime.summary(),
      runTime: this.runTime.summary(),
    });
  }
}
