/**
 * The pool's implementation: admission, dispatch to the least-loaded ready worker, settling, the
 * workers' hooks and statistics. Startup and shutdown, the transport and the run registry live in
 * run.ts; where events go in publisher.ts; replacement of dead workers and heartbeats in
 * supervisor.ts, recycling in recycler.ts; retries of idempotent calls in retry.ts. `Pool` (pool.ts)
 * is its public face.
 */

import { EventEmitter } from 'node:events';
import { SnakepitError } from '../errors.js';
import type { PoolEventMap, PoolState } from '../events.js';
import { AuditLog } from '../audit/audit-log.js';
import { type ResolvedPoolOptions } from '../options.js';
import { checkCallOptions, type ExecuteOptions, type StreamOptions } from '../call-options.js';
import { fromWireError } from '../protocol/wire-errors.js';
import { callMessage, type WireError } from '../protocol/messages.js';
import type { Frame } from '../protocol/frames.js';
import { WorkerHandle, type CallSink, type ExitInfo, type LogStream, type WorkerHooks } from '../worker/worker.js';
import { Scheduler } from '../scheduling/scheduler.js';
import { Call, PlainConsumer, type CallConsumer, type CallHost } from './call.js';
import { StreamFeed, ToolStream } from './stream.js';
import type { ToolInfo } from './tools.js';
import { Catalogue } from './catalogue.js';
import { PoolCounters, workerSnapshot, type PoolStats } from './stats.js';
import { checkArguments } from './argument-check.js';
// Sessions, references, allowlisted calls and host tools.
import { blockedAnywhere, HostCalls, HostToolRegistry, currentHostCall, nestedLimits } from './host-tools.js';
import type { CallRoute, SessionCore } from './session.js';
import { SessionManager, type SessionHost } from './session-manager.js';
// Supervision: restarts, heartbeats, recycling, retries.
import { isMemoryError } from '../supervision/recycle.js';
import { lostCallOutcome } from '../supervision/retry.js';
import { Supervisor, type SupervisorHost } from '../supervision/supervisor.js';
import type { Recycler } from '../supervision/recycler.js';
import { PoolLifecycle, refusal } from './state.js';
import { PoolRun, type RunHost } from './run.js';
import { EventPublisher } from './publisher.js';
// Telemetry: spans, metrics, tracing channel, logs (src/telemetry).
import { Telemetry } from '../telemetry/telemetry.js';

export class PoolCore implements CallHost, WorkerHooks, SessionHost, SupervisorHost, RunHost {
  private readonly lifecycle = new PoolLifecycle((from, to, reason) =>
    this.publish('poolState', reason === undefined ? { type: 'poolState', from, to } : { type: 'poolState', from, to, reason }),
  );
  readonly workers: WorkerHandle[] = [];
  private readonly catalogue = new Catalogue();
  readonly scheduler: Scheduler<Call>;
  private nextCallId = 1;
  private nextWorkerId = 1;
  private drained: (() => void) | undefined;
  // supervision (supervisor.ts, recycler.ts); the run: transport, run registry, startup and shutdown (run.ts)
  private readonly supervisor: Supervisor;
  private readonly recycler: Recycler;
  private readonly run: PoolRun;
  /** options.audit (src/audit/): every settled call is recorded. */
  readonly audit: AuditLog | undefined;

  // statistics
  private readonly counters = new PoolCounters();

  // sessions and host tools
  readonly sessions = new SessionManager(this);
  readonly hostTools = new HostToolRegistry();
  private readonly hostCalls = new HostCalls(this);
  readonly telemetry: Telemetry;
  private readonly publisher: EventPublisher;
  /** Bytes sent to and received from workers that have exited. */
  private readonly exitedBytes = { sent: 0, received: 0 };

  constructor(
    readonly options: ResolvedPoolOptions,
    emitter: EventEmitter<PoolEventMap>,
  ) {
    this.supervisor = new Supervisor(this);
    this.recycler = this.supervisor.recycler;
    this.scheduler = new Scheduler<Call>({
      workers: this.workers,
      options,
      dispatch: (call, worker) => this.dispatch(call, worker),
      placeSessionCall: (call, worker) => this.sessions.placeQueued(call, worker),
    });
    this.run = new PoolRun(this, this.supervisor);
    this.telemetry = new Telemetry({ stats: () => this.stats(), bytes: () => this.bytes() }, options.logs);
    this.publisher = new EventPublisher(emitter, this.telemetry);
    this.audit = options.audit === undefined ? undefined : new AuditLog(options.audit);
  }

  /** The pool's state; it changes only through the table in state.ts. */
  get state(): PoolState {
    return this.lifecycle.state;
  }

  get cancelGrace(): number {
    return this.options.cancelGrace;
  }

  /** Every waiting call (the supervisor keeps replacing workers while a draining pool has some). */
  get queued(): number {
    return this.scheduler.queued;
  }

  // ------------------------------------------------------------------ startup

  start(): Promise<void> {
    return this.run.start();
  }

  /** Create a worker (not started) and add it to the list; the supervisor starts it. */
  createWorker(): WorkerHandle {
    const worker = new WorkerHandle(this.run.workerSpec(this.nextWorkerId++), this.run.transport, this);
    this.workers.push(worker);
    return worker;
  }

  /** A worker said hello and answered its first ping (called by the supervisor). */
  workerReady(worker: WorkerHandle): void {
    this.catalogue.learn(worker.info!, this.options.codecs[0], this.options.python);
    this.publisher.workerReady(worker);
    if (this.state !== 'starting') this.sessions.onWorkerReady(worker);
    if (this.state !== 'starting') this.slotListener?.();
    this.checkDrained();
  }

  // ----------------------------------------------------------------- calling

  private admit(tool: unknown, args: unknown, wantStream: boolean, collect: boolean, route: CallRoute | undefined, tenant: string | undefined): ToolInfo {
    const refused = this.refusal('calls');
    if (refused !== undefined) throw refused;
    const info = this.catalogue.check(tool, args, wantStream, collect, route?.builtin === true);
    if (this.options.checkArguments) checkArguments(info, args as Record<string, unknown> | undefined);
    if (route?.session !== undefined && route.builtin !== true) this.sessionGate?.(info.name, tenant);
    return info;
  }

  execute(tool: string, args: Record<string, unknown> | undefined, opts?: ExecuteOptions, route?: CallRoute): Promise<unknown> {
    let info: ToolInfo;
    let timeout: number;
    try {
      timeout = checkCallOptions(opts, this.options.timeout);
      info = this.admit(tool, args, false, opts?.collect === true, route, opts?.tenant);
    } catch (err) {
      this.counters.refused(err);
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
      const call = this.makeCall(tool, args, timeout, 0, opts?.signal, new PlainConsumer(resolve, reject), route?.session);
      call.idempotent = opts?.idempotent === true;
      call.principal = opts?.principal;
      this.submit(call);
    });
  }

  stream<T>(tool: string, args: Record<string, unknown> | undefined, opts?: StreamOptions, route?: CallRoute): ToolStream<T> {
    let timeout: number;
    try {
      timeout = checkCallOptions(opts, this.options.timeout);
      this.admit(tool, args, true, false, route, opts?.tenant);
    } catch (err) {
      this.counters.refused(err);
      throw err;
    }
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
    const feed = new StreamFeed<T>(window, opts?.idleTimeout ?? 0);
    const call = this.makeCall(tool, args, timeout, window, opts?.signal, feed, route?.session);
    call.idempotent = opts?.idempotent === true;
    call.principal = opts?.principal;
    feed.attach(call);
    this.submit(call);
    return new ToolStream<T>(feed);
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
    this.counters.submitted++;
    if (call.settled) return; // aborted before submission
    this.telemetry.submitted(call);
    if (call.session !== undefined) {
      this.sessions.submit(call);
      return;
    }
    this.scheduler.submit(call, blockedAnywhere);
  }

  /** Send `call` to `worker` (which has a free slot). Used by the session layer too. */
  dispatch(call: Call, worker: WorkerHandle): void {
    let frame: Frame;
    const now = performance.now(); // one clock read for the deadline sent and the dispatch time
    try {
      const session = call.session?.id ?? null;
      const trace = this.telemetry.dispatching(call, worker.id, worker.pid);
      frame = worker.encode(
        callMessage(call.id, call.tool, call.args, call.remainingMs(now), session, call.window, trace),
        `arguments of ${call.tool}`,
        { tool: call.tool, requestId: call.id },
      );
    } catch (err) {
      call.fail(err as SnakepitError);
      return;
    }
    call.markDispatched(worker, now);
    this.counters.waitTime.record(call.dispatchedAt - call.submittedAt);
    try {
      worker.dispatch(call, frame);
    } catch (err) {
      call.fail(err as SnakepitError);
    }
  }

  unqueue(call: Call): boolean {
    return this.scheduler.unqueue(call);
  }

  openPrivateSession(): SessionCore {
    return this.sessions.openPrivate();
  }

  wireError(call: Call, wire: WireError): SnakepitError {
    // A worker out of memory is replaced once it has answered (recycler.ts, recycle.ts).
    if (wire?.kind === 'python_error' && isMemoryError(wire.type)) this.recycler.onMemoryError(call.worker);
    return fromWireError(wire, call.tool, () => this.toolNames(), {
      requestId: call.id,
      workerId: call.worker?.id,
      pid: call.worker?.pid,
    });
  }

  /** The call's worker died with the call in flight: retry it (idempotent calls) or settle it. */
  onLost(call: Call, error: SnakepitError): SnakepitError | undefined {
    const outcome = lostCallOutcome(call, error, this.options.retries, this.lifecycle.rule.mayQueue);
    if (!outcome.retry) return outcome.error;
    this.counters.retries++;
    call.prepareRetry();
    this.scheduler.requeueFirst(call);
    return undefined;
  }

  /** Reject every queued call with `error` (the breaker opened). */
  failQueued(error: SnakepitError): void {
    this.scheduler.failAll(error);
  }

  recordSettled(call: Call, error: SnakepitError | undefined): void {
    const now = performance.now(); // one clock read for the metrics and the statistics
    this.telemetry.settled(call, error, now);
    this.audit?.settled(call, error);
    this.counters.settled(call.dispatchedAt, error, now);
  }

  // ------------------------------------------------------------ worker hooks

  onSpawn(worker: WorkerHandle): void {
    this.run.spawned(worker.pid!);
    this.publisher.workerSpawn(worker);
  }

  onSettled(worker: WorkerHandle, _sink: CallSink): void {
    this.recycler.afterSettle(worker);
    this.scheduler.onSlotFree(worker);
    if (this.drained !== undefined) this.checkDrained();
    this.slotListener?.();
  }

  /** The serving layer's hooks (set by the Pool): a slot may have freed; a session call's admission (rate quota). */
  slotListener: (() => void) | undefined;
  sessionGate: ((tool: string, tenant: string | undefined) => void) | undefined;

  /** Whether a call submitted now would start at once: nothing queued and a worker with a free slot. */
  hasFreeSlot(): boolean {
    return this.scheduler.sharedQueued === 0 && this.scheduler.leastLoaded() !== undefined;
  }

  onExit(worker: WorkerHandle, info: ExitInfo): void {
    const index = this.workers.indexOf(worker);
    if (index !== -1) this.workers.splice(index, 1);
    this.sessions.onWorkerExit(worker);
    if (worker.pid !== undefined) this.run.exited(worker.pid);
    this.exitedBytes.sent += worker.bytesOut;
    this.exitedBytes.received += worker.bytesIn;
    this.publisher.workerExit(worker, info);
    if (worker.readyAt > 0) this.counters.workerExited(info.reason);
    this.supervisor.onExit(worker, info);
    // Calls taken back for a retry wait in the queue: give them to the workers that remain.
    this.scheduler.pump();
    this.checkDrained();
  }

  onHostCall(worker: WorkerHandle, id: number, parent: number, tool: string, args: Record<string, unknown>, trace?: unknown): void {
    this.hostCalls.handle(worker, id, parent, tool, args, trace);
  }

  onLog(worker: WorkerHandle, stream: LogStream, line: string, level?: string, requestId?: number, logger?: string, exception?: string): void {
    this.publisher.log(worker, stream, line, level, requestId, logger, exception);
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
    return this.recycler.recycleById(workerId);
  }

  hasLiveSessions(worker: WorkerHandle): boolean {
    return this.sessions.hasLiveSessions(worker);
  }

  loseSessions(worker: WorkerHandle): void {
    this.sessions.loseSessions(worker, 'recycled');
  }

  // ------------------------------------------------------------------ stopping

  close(): Promise<void> {
    return this.run.close();
  }

  destroy(): Promise<void> {
    return this.run.destroy();
  }

  /** Resolves once no call is queued or in flight (close); checkDrained resolves it. */
  drain(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.drained = resolve;
      this.checkDrained();
    });
  }

  /** The drain is over, or destroy lets whoever waits for it go. */
  stopDraining(): void {
    const done = this.drained;
    this.drained = undefined;
    done?.();
  }

  /** While close waits: asked when a call settles (one field check on that path), a worker exits or is ready. */
  private checkDrained(): void {
    if (this.drained !== undefined && this.run.drained()) this.stopDraining();
  }

  // --------------------------------------------------------------- reporting

  setState(to: PoolState, reason?: string): void {
    this.lifecycle.move(to, reason);
  }

  /** The error new work (`what`) is refused with in the current state, if it is (state.ts). */
  refusal(what: string): SnakepitError | undefined {
    return refusal(this.state, what, this.supervisor.failure);
  }

  publish<K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]): void {
    this.publisher.publish(name, event);
  }

  toolNames(): string[] {
    return this.catalogue.names();
  }

  tools(): ToolInfo[] {
    return this.catalogue.list();
  }

  /** Before a reload replaces the workers: fork them from a fresh zygote that imports the new code. */
  beforeReload(): Promise<void> {
    return this.run.beforeReload();
  }

  /** After a reload: the catalogue of the newest ready worker (the adapter may have changed). */
  refreshCatalogue(): void {
    const newest = [...this.workers].reverse().find((w) => w.state === 'ready' && !w.retiring && w.info !== undefined);
    if (newest !== undefined) this.catalogue.replace(newest.info!);
  }

  stats(): PoolStats {
    const c = this.counters;
    const fs = this.run.forkServer;
    return Object.freeze({
      state: this.state,
      size: this.options.size,
      ...workerSnapshot(this.workers),
      queued: this.scheduler.sharedQueued,
      peakQueued: this.scheduler.peakShared,
      submitted: c.submitted,
      succeeded: c.succeeded,
      failed: c.failed,
      failedByCode: Object.freeze({ ...c.failedByCode }),
      crashes: c.crashes,
      cancelKills: c.cancelKills,
      restarts: this.supervisor.restarts,
      pendingRestarts: this.supervisor.pendingRestarts,
      recycles: this.recycler.recycles,
      wedged: this.supervisor.wedged,
      breakerTrips: this.supervisor.breakerTrips,
      retries: c.retries,
      reaped: this.run.reaped,
      ...(fs && { forkServer: Object.freeze({ pid: fs.zygotePid, restarts: fs.restarts, crashes: fs.crashes }) }),
      waitTime: c.waitTime.summary(),
      runTime: c.runTime.summary(),
    });
  }
}
