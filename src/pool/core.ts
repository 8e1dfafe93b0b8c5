/**
 * The pool's implementation: workers, the queue, dispatch to the least-loaded ready worker,
 * replacement of workers that die, lifecycle and statistics. `Pool` (pool.ts) is its public face.
 */

import { EventEmitter } from 'node:events';
import {
  InvalidArgumentsError,
  NotStreamingError,
  PoolClosedError,
  PoolSaturatedError,
  SnakepitError,
  ToolNotFoundError,
  WorkerStartError,
  PayloadTooLargeError,
  type ErrorCode,
} from '../errors.js';
import { channels, type PoolEvent, type PoolEventMap, type PoolState } from '../events.js';
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
import type { PoolStats } from './stats.js';
// Sessions, references, allowlisted calls and host tools.
import { HostCalls, HostToolRegistry, currentHostCall, nestedBlocked, nestedLimits } from './host-tools.js';
import type { CallRoute, SessionCore } from './session.js';
import { SessionManager, type SessionHost } from './session-manager.js';
import { workerEnv } from './python-calls.js';

const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 5_000;
/** Consecutive failed replacements, with no ready worker left, after which the pool is failed. */
const MAX_FAILED_RESTARTS = 5;

let jsonFallbackWarned = false;

/** The catalogue entry of the built-in tools (`$python.*`, `$ref.*`), which are never streams. */
const BUILTIN_INFO: ToolInfo = Object.freeze({ name: '$builtin', doc: '', parameters: [], returns: null, async: false, stream: false });

export class PoolCore implements CallHost, WorkerHooks, SessionHost {
  state: PoolState = 'starting';
  readonly workers: WorkerHandle[] = [];
  private catalogue = new Map<string, ToolInfo>();
  private readonly queue = new CallQueue<Call>();
  private nextCallId = 1;
  private nextWorkerId = 1;
  private restartFailures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private lastStartError: SnakepitError | undefined;
  private drained: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  // statistics
  private submitted = 0;
  private succeeded = 0;
  private failed = 0;
  private readonly failedByCode: Partial<Record<ErrorCode, number>> = {};
  private readonly waitTime = new Histogram();
  private readonly runTime = new Histogram();
  private restarts = 0;
  private crashes = 0;

  // sessions and host tools
  readonly sessions = new SessionManager(this);
  readonly hostTools = new HostToolRegistry();
  private readonly hostCalls = new HostCalls(this);

  constructor(
    readonly options: ResolvedPoolOptions,
    private readonly emitter: EventEmitter<PoolEventMap>,
  ) {}

  get cancelGrace(): number {
    return this.options.cancelGrace;
  }

  // ------------------------------------------------------------------ startup

  async start(): Promise<void> {
    const { size, startupConcurrency } = this.options;
    const started: Promise<void>[] = [];
    let next = 0;
    const startOne = async (): Promise<void> => {
      while (next < size && this.state === 'starting') {
        next++;
        await this.startWorker();
      }
    };
    for (let i = 0; i < Math.min(size, startupConcurrency); i++) started.push(startOne());
    const results = await Promise.allSettled(started);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined || this.state !== 'starting') {
      this.setState('failed');
      await Promise.all(this.workers.map((w) => w.kill('start-failed')));
      throw failure?.reason ?? new PoolClosedError('pool was destroyed while it started');
    }
    this.setState('ready');
  }

  private async startWorker(): Promise<WorkerHandle> {
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
      },
      this,
    );
    this.workers.push(worker);
    await worker.start();
    this.onWorkerReady(worker);
    return worker;
  }

  private onWorkerReady(worker: WorkerHandle): void {
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
    this.restartFailures = 0;
    this.publish('workerReady', {
      type: 'workerReady',
      workerId: worker.id,
      pid: worker.pid!,
      python: info.python,
      codec: info.codec,
      startMs: Math.round(performance.now() - worker.startedAt),
    });
    if (this.state !== 'starting') this.sessions.onWorkerReady(worker);
    if (this.state !== 'starting') this.pump();
  }

  // ----------------------------------------------------------------- calling

  private admit(tool: unknown, args: unknown, wantStream: boolean, collect: boolean, route?: CallRoute): ToolInfo {
    if (this.state !== 'ready') {
      throw this.state === 'failed'
        ? new PoolClosedError(`pool has failed: ${this.lastStartError?.message ?? 'no worker could be started'}`, { cause: this.lastStartError })
        : new PoolClosedError(`pool is ${this.state}; no new calls are accepted`);
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
      this.submit(this.makeCall(tool, args, timeout, 0, opts?.signal, consumer, route?.session));
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
      frame = worker.encode([Msg.CALL, call.id, call.tool, call.args, call.remainingMs(), session, call.window]);
      if (frame.length - 4 > this.options.maxPayload) {
        throw new PayloadTooLargeError(frame.length - 4, this.options.maxPayload, `arguments of ${call.tool}`, {
          tool: call.tool,
          requestId: call.id,
        });
      }
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
    return fromWireError(wire, call.tool, () => this.toolNames(), {
      requestId: call.id,
      workerId: call.worker?.id,
      pid: call.worker?.pid,
    });
  }

  recordSettled(call: Call, error: SnakepitError | undefined): void {
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
    this.publish('workerSpawn', { type: 'workerSpawn', workerId: worker.id, pid: worker.pid! });
  }

  onSettled(worker: WorkerHandle, _sink: CallSink): void {
    if (this.sessions.queued > 0) this.sessions.onSlotFree(worker);
    if (this.queue.length > 0) this.pump();
    else if (this.drained !== undefined) this.checkDrained();
  }

  onExit(worker: WorkerHandle, info: ExitInfo): void {
    const index = this.workers.indexOf(worker);
    if (index !== -1) this.workers.splice(index, 1);
    this.sessions.onWorkerExit(worker);
    this.publish('workerExit', {
      type: 'workerExit',
      workerId: worker.id,
      pid: worker.pid,
      code: info.code,
      signal: info.signal,
      reason: info.reason,
      lostCalls: 0,
    });
    const unexpected = info.reason !== 'shutdown' && info.reason !== 'killed';
    if (unexpected && worker.info !== undefined) this.crashes++;
    const active = this.state === 'ready' || (this.state === 'draining' && this.queue.length > 0);
    if (active && unexpected && worker.info !== undefined) this.scheduleReplacement();
    this.checkDrained();
  }

  onHostCall(worker: WorkerHandle, id: number, parent: number, tool: string, args: Record<string, unknown>): void {
    this.hostCalls.handle(worker, id, parent, tool, args);
  }

  onLog(worker: WorkerHandle, stream: LogStream, line: string, level?: string, requestId?: number): void {
    if (this.emitter.listenerCount('log') === 0 && !channels.log.hasSubscribers) return;
    this.publish('log', {
      type: 'log',
      workerId: worker.id,
      pid: worker.pid,
      stream,
      line,
      level: level ?? (stream === 'stderr' ? 'stderr' : 'info'),
      requestId,
    });
  }

  // ------------------------------------------------------------- replacement

  private scheduleReplacement(): void {
    const delay = this.restartFailures === 0 ? 0 : Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (this.restartFailures - 1));
    const timer = setTimeout(() => void this.replace(), delay);
    timer.unref();
    this.restartTimer = timer;
  }

  private async replace(): Promise<void> {
    this.restartTimer = undefined;
    const active = this.state === 'ready' || (this.state === 'draining' && this.queue.length > 0);
    if (!active || this.workers.length >= this.options.size) return;
    try {
      this.restarts++;
      const worker = await this.startWorker();
      if (this.state === 'closed' || this.state === 'failed') await worker.kill('killed');
    } catch (err) {
      this.lastStartError = err as SnakepitError;
      this.restartFailures++;
      const anyReady = this.workers.some((w) => w.state === 'ready');
      if (!anyReady && this.restartFailures >= MAX_FAILED_RESTARTS) {
        this.failPool(err as SnakepitError);
        return;
      }
      this.scheduleReplacement();
    }
  }

  private failPool(cause: SnakepitError): void {
    this.setState('failed');
    const error = new WorkerStartError(`pool failed: workers cannot be started: ${cause.message}`, { cause });
    for (const call of this.queue.drain()) call.fail(error);
    this.sessions.failAllQueued(error);
  }

  // ------------------------------------------------------------------ stopping

  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    if (this.state === 'closed') return Promise.resolve();
    this.setState('draining');
    this.closing = new Promise<void>((resolve) => {
      this.drained = resolve;
      this.checkDrained();
    }).then(async () => {
      this.sessions.closeAll();
      await Promise.all(this.workers.map((w) => w.shutdown()));
      this.setState('closed');
    });
    return this.closing;
  }

  private checkDrained(): void {
    if (this.drained === undefined) return;
    if (this.queue.length > 0 || this.sessions.queued > 0) {
      if (this.workers.length === 0 && this.restartTimer === undefined) {
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
    const wasClosed = this.state === 'closed';
    if (!wasClosed) this.setState('closed');
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    const error = new PoolClosedError('pool was destroyed');
    for (const call of this.queue.drain()) call.fail(error);
    this.sessions.failAllQueued(error);
    this.sessions.closeAll();
    for (const worker of this.workers) {
      for (const sink of worker.pending.values()) (sink as Call).fail(error);
    }
    await Promise.all(this.workers.map((w) => w.kill('killed')));
    const done = this.drained;
    this.drained = undefined;
    done?.();
  }

  // --------------------------------------------------------------- reporting

  private setState(to: PoolState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.publish('poolState', { type: 'poolState', from, to });
  }

  private publish<K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]): void {
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

  stats(): PoolStats {
    const byState = { starting: 0, ready: 0, busy: 0, stopping: 0 };
    let inFlight = 0;
    const workers = this.workers.map((w) => {
      inFlight += w.pending.size;
      if (w.state === 'ready') {
        if (w.pending.size > 0) byState.busy++;
        byState.ready++;
      } else if (w.state === 'starting') byState.starting++;
      else if (w.state === 'stopping') byState.stopping++;
      return Object.freeze({ id: w.id, pid: w.pid, state: w.state, inFlight: w.pending.size, completed: w.completed, codec: w.info?.codec });
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
      restarts: this.restarts,
      waitTime: this.waitTime.summary(),
      runTime: this.runTime.summary(),
    });
  }
}
