/**
 * One worker: a process (started and controlled by the pool's transport) and the protocol
 * connection with it (src/connection/). This class owns the worker's lifecycle: start with its
 * timeout, graceful shutdown, kill escalation, and the exit that settles every call in flight
 * (with the errors of exit-errors.ts).
 *
 * Every call handed to `dispatch` ends in exactly one of the sink's terminal callbacks: the worker's
 * reply, or `onWorkerLost` when the process goes away. Sending to a dead worker throws.
 */

import { SnakepitError, WorkerCrashedError, WorkerStartError, type ErrorFields } from '../errors.js';
import type { WorkerExitReason } from '../events.js';
import { Connection, type CallSink, type ConnectionOwner } from '../connection/connection.js';
import type { Heartbeat } from '../connection/heartbeat.js';
import type { Frame } from '../protocol/frames.js';
import { warmCodecs } from '../protocol/warm-up.js';
import type { CodecName, HelloInfo, WireError } from '../protocol/messages.js';
import type { ResolvedSandbox } from '../security/sandbox.js';
import type { Channel, Transport, WorkerProcess } from '../transport/transport.js';
import { trackWorker, untrackWorker } from './registry.js';
import { crashError, startError, type WorkerExit } from './exit-errors.js';

export type { CallSink } from '../connection/connection.js';
export type WorkerState = 'starting' | 'ready' | 'stopping' | 'exited';
export type LogStream = 'stdout' | 'stderr' | 'worker';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: WorkerExitReason;
  /** Calls in flight when the process went away. */
  lostCalls?: number;
  /** It died with the fork server that forked it (sandboxed): not a failure of its own. */
  withZygote?: boolean;
}

export interface WorkerHooks {
  onSpawn(worker: WorkerHandle): void;
  /** A call left the worker's pending map: its slot is free again. */
  onSettled(worker: WorkerHandle, sink: CallSink): void;
  onExit(worker: WorkerHandle, info: ExitInfo): void;
  onLog(worker: WorkerHandle, stream: LogStream, line: string, level?: string, requestId?: number, logger?: string, exception?: string): void;
  /**
   * Python called host tool `tool` (host call `id`) while request `parent` runs; answer with
   * `host_result`. `trace` is the W3C trace context of the Python span, when traced.
   */
  onHostCall?(worker: WorkerHandle, id: number, parent: number, tool: string, args: Record<string, unknown>, trace?: unknown): void;
}

export interface WorkerSpec {
  id: number;
  python: string;
  adapter: string;
  cwd: string | undefined;
  /** User environment and every SNAKEPIT_* setting of the worker. */
  env: Readonly<Record<string, string>>;
  concurrency: number;
  maxPayload: number;
  codecs: readonly CodecName[];
  startupTimeout: number;
  killGrace: number;
  /** How integers in results arrive (the `int64` pool option). Default `auto`. */
  int64?: 'auto' | 'number' | 'bigint';
  /** Why `python` was chosen, for start-up errors (`$SNAKEPIT_PYTHON`, `a .venv beside the adapter`...). */
  pythonReason?: string;
  /** Run the worker under bubblewrap (src/security/sandbox.ts). */
  sandbox?: ResolvedSandbox | undefined;
}

export class WorkerHandle implements ConnectionOwner {
  readonly id: number;
  private lifecycle: WorkerState = 'starting';
  /**
   * performance.now() when its process was launched. Taken after the spawn, not before: a pool's first
   * read of `performance` loads Node's perf_hooks (about half a millisecond), which then overlaps the
   * interpreter's start instead of delaying it (docs/architecture.md, Decisions).
   */
  private launchedAt = 0;
  /** performance.now() when the worker became ready (0 before). */
  readyAt = 0;
  /** Supervision: a retiring worker takes no new calls; it finishes its calls and is then shut down. */
  retiring = false;

  private readonly conn: Connection;
  private proc: WorkerProcess | undefined;
  private exitReason: WorkerExitReason | undefined;
  private exitError: SnakepitError | undefined;
  private fatal: WireError | undefined;
  private refed = false;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly exited: Promise<ExitInfo>;
  private resolveExited!: (info: ExitInfo) => void;
  private startSettle: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    private readonly spec: WorkerSpec,
    private readonly transport: Transport,
    private readonly hooks: WorkerHooks,
  ) {
    this.id = spec.id;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.conn = new Connection({ workerId: spec.id, maxPayload: spec.maxPayload, codecs: spec.codecs, int64: spec.int64 }, this);
  }

  /** performance.now() when its process was launched. */
  get startedAt(): number {
    return this.launchedAt;
  }

  get state(): WorkerState {
    return this.lifecycle;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get info(): HelloInfo | undefined {
    return this.conn.info;
  }

  /** Calls sent and not yet answered, including ones the caller gave up on (their slot stays taken). */
  get pending(): ReadonlyMap<number, CallSink> {
    return this.conn.pending;
  }

  get completed(): number {
    return this.conn.completed;
  }

  get heartbeat(): Heartbeat {
    return this.conn.heartbeat;
  }

  /** Bytes written to the worker's byte stream (metrics). */
  get bytesOut(): number {
    return this.conn.bytesOut;
  }

  /** Bytes read from the worker's byte stream (metrics). */
  get bytesIn(): number {
    return this.conn.bytesIn;
  }

  get concurrency(): number {
    return this.spec.concurrency;
  }

  /** Whether the worker takes new calls: ready and not retiring (the one rule, see scheduling). */
  get accepting(): boolean {
    return this.lifecycle === 'ready' && !this.retiring;
  }

  /** Forked by the fork server: much of its memory is shared with the zygote (recycling counts USS). */
  get forked(): boolean {
    return this.transport.kind === 'forkserver';
  }

  get stderr(): string {
    return this.proc?.stderrTail ?? '';
  }

  /** Start the process; resolves once the worker said hello and answered a ping. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let startTimer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        if (this.startSettle === undefined) return; // settled already (each settle path clears it)
        startTimer = setTimeout(() => {
          this.failStart(
            new WorkerStartError(
              `worker ${this.id} did not become ready within startupTimeout (${this.spec.startupTimeout} ms)`,
              { workerId: this.id, pid: this.pid, phase: 'timeout', stderrTail: this.stderr },
            ),
          );
        }, this.spec.startupTimeout);
        startTimer.unref();
      };
      const clear = (): void => clearTimeout(startTimer);
      this.startSettle = {
        resolve: () => (clear(), resolve()),
        reject: (err) => (clear(), reject(err)),
      };
      this.launch();
      this.launchedAt = performance.now();
      // A forked worker starts once its zygote is ready (transport.ts, `starting`); if the zygote fails,
      // so does the fork, which ends this start.
      const starting = this.proc?.starting;
      if (starting === undefined) arm();
      else starting.then(arm, () => {});
    });
  }

  private launch(): void {
    let proc: WorkerProcess;
    try {
      proc = this.transport.launch(
        {
          workerId: this.id,
          python: this.spec.python,
          adapter: this.spec.adapter,
          cwd: this.spec.cwd,
          env: this.spec.env,
          startupTimeout: this.spec.startupTimeout,
          sandbox: this.spec.sandbox,
        },
        {
          onLine: (stream, line) => this.hooks.onLog(this, stream, line),
          onSpawnError: (err) => this.onSpawnError(err),
          onExit: (code, signal) => this.finishExit(code, signal),
        },
      );
    } catch (err) {
      this.onSpawnError(err as NodeJS.ErrnoException);
      return;
    }
    this.proc = proc;
    proc.channel.then(
      (channel: Channel) => {
        if (this.lifecycle === 'exited') return;
        this.spawned(); // a forked worker's pid is known by now
        this.conn.attach(channel);
        if (this.refed) channel.ref();
        else channel.unref();
      },
      () => {
        /* never connected: the start timeout or the exit reports it */
      },
    );
    this.setRef(true);
    this.spawned();
    // The host waits idle for hello from here: compile the codecs meanwhile (protocol/warm-up.ts).
    setImmediate(warmCodecs);
  }

  private tracked = false;

  /** The process has a pid: track it for process exit and tell the pool (run registry, event). */
  private spawned(): void {
    if (this.tracked || this.proc?.pid === undefined) return;
    this.tracked = true;
    trackWorker(this);
    this.hooks.onSpawn(this);
  }

  /**
   * Keep the host's event loop alive while it waits on this worker (starting, calls in flight,
   * stopping); an idle ready worker holds nothing, so an idle pool never keeps the host running.
   */
  private setRef(on: boolean): void {
    if (on === this.refed) return;
    this.refed = on;
    if (on) {
      this.conn.ref();
      this.proc?.ref();
    } else {
      this.conn.unref();
      this.proc?.unref();
    }
  }

  // ------------------------------------------------------------ calls (connection)

  /** Write one complete frame. Throws WorkerCrashedError if the worker is gone. */
  send(frame: Frame): void {
    if (this.lifecycle === 'exited') {
      throw new WorkerCrashedError(`worker ${this.id} is not running`, { workerId: this.id, pid: this.pid });
    }
    this.conn.send(frame);
  }

  /** Send a call's frame and track it until the worker answers or dies. */
  dispatch(sink: CallSink, frame: Frame): void {
    if (this.lifecycle === 'exited') this.send(frame);
    this.conn.dispatch(sink, frame);
  }

  /** Encode a message for this worker; throws PayloadTooLargeError over maxPayload (see Connection). */
  encode(message: unknown, what = 'message', fields: ErrorFields = {}): Frame {
    return this.conn.encode(message, what, fields);
  }

  cancel(id: number): void {
    if (this.lifecycle !== 'exited') this.conn.cancel(id);
  }

  credit(id: number, n: number): void {
    if (this.lifecycle !== 'exited') this.conn.credit(id, n);
  }

  ping(now: number): void {
    if (this.lifecycle === 'ready') this.conn.ping(now);
  }

  // ------------------------------------------------------- connection owner

  onReady(): void {
    this.lifecycle = 'ready';
    this.readyAt = performance.now();
    if (this.conn.pending.size === 0) this.setRef(false);
    const settle = this.startSettle;
    this.startSettle = undefined;
    settle?.resolve();
  }

  onBadHello(problem: string): void {
    this.failStart(new WorkerStartError(`worker ${this.id}: ${problem}`, { workerId: this.id, pid: this.pid, phase: 'handshake' }));
  }

  onFatal(error: WireError): void {
    this.fatal = error;
  }

  onBroken(error: SnakepitError): void {
    if (this.lifecycle === 'starting') {
      this.failStart(
        new WorkerStartError(`worker ${this.id}: ${error.message}`, { workerId: this.id, pid: this.pid, phase: 'handshake', cause: error }),
      );
      return;
    }
    void this.kill('protocol-error', error);
  }

  onSettled(sink: CallSink): void {
    this.hooks.onSettled(this, sink);
  }

  onBusy(busy: boolean): void {
    if (busy) this.setRef(true);
    else if (this.lifecycle === 'ready') this.setRef(false);
  }

  onLog(level: string, message: string, requestId: number | undefined, logger?: string, exception?: string): void {
    // A tool's stderr lines come as log frames; they belong in the tail a crash error carries.
    if (level === 'stderr') this.proc?.noteStderr(message);
    this.hooks.onLog(this, 'worker', message, level, requestId, logger, exception);
  }

  onHostCall(id: number, parent: number, tool: string, args: Record<string, unknown>, trace?: unknown): void {
    this.hooks.onHostCall?.(this, id, parent, tool, args, trace);
  }

  // ----------------------------------------------------------------- stopping

  /** Ask the worker to finish and exit; kill it if it has not exited within `killGrace`. */
  shutdown(reason: WorkerExitReason = 'shutdown'): Promise<ExitInfo> {
    if (this.lifecycle === 'exited') return this.exited;
    if (this.lifecycle === 'starting') return this.kill(reason);
    this.lifecycle = 'stopping';
    this.setRef(true);
    this.exitReason ??= reason;
    this.conn.shutdown();
    this.armKillTimer(this.spec.killGrace, 'SIGTERM');
    return this.exited;
  }

  /** SIGTERM the process group, SIGKILL after `killGrace`; resolves once the process has exited. */
  kill(reason: WorkerExitReason, error?: SnakepitError): Promise<ExitInfo> {
    if (this.lifecycle === 'exited') return this.exited;
    this.exitReason ??= reason;
    this.exitError ??= error;
    this.lifecycle = 'stopping';
    if (this.proc === undefined) return this.exited;
    this.setRef(true);
    this.proc.signal('SIGTERM');
    // A stopped (wedged) process only acts on SIGTERM once continued.
    if (reason === 'wedged') this.proc.signal('SIGCONT');
    this.armKillTimer(this.spec.killGrace, 'SIGKILL');
    return this.exited;
  }

  /** Synchronous SIGKILL of the group, for process exit. */
  killNow(): void {
    if (this.lifecycle !== 'exited') this.proc?.signal('SIGKILL');
  }

  private armKillTimer(ms: number, first: 'SIGTERM' | 'SIGKILL'): void {
    const proc = this.proc;
    if (this.killTimer !== undefined || proc === undefined) return;
    this.killTimer = setTimeout(() => {
      proc.signal(first);
      if (first === 'SIGTERM') this.killTimer = setTimeout(() => proc.signal('SIGKILL'), this.spec.killGrace);
    }, ms);
  }

  private failStart(error: WorkerStartError): void {
    const settle = this.startSettle;
    this.startSettle = undefined;
    settle?.reject(error);
    void this.kill('start-failed', error);
  }

  private onSpawnError(err: NodeJS.ErrnoException): void {
    if (this.pid !== undefined && this.lifecycle !== 'starting') return;
    const error = new WorkerStartError(
      `cannot run Python executable ${JSON.stringify(this.spec.python)}${this.spec.pythonReason ? ` (chosen by ${this.spec.pythonReason})` : ''}: ${err.code ?? err.message}`,
      { workerId: this.id, phase: 'spawn', cause: err },
    );
    const settle = this.startSettle;
    this.startSettle = undefined;
    settle?.reject(error);
    if (this.pid === undefined) this.finishExit(null, null);
  }

  private finishExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.lifecycle === 'exited') return;
    const wasStarting = this.startSettle !== undefined;
    this.lifecycle = 'exited';
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
    untrackWorker(this);
    this.setRef(false);
    const reason: WorkerExitReason = this.exitReason ?? (wasStarting ? 'start-failed' : 'crash');
    const exit: WorkerExit = { workerId: this.id, pid: this.pid, code, signal, stderrTail: this.stderr };
    if (wasStarting) {
      const settle = this.startSettle;
      this.startSettle = undefined;
      settle?.reject(startError(exit, this.fatal, this.spec.adapter, this.spec.python));
    }
    const lost = this.exitError ?? crashError(exit, reason);
    const sinks = this.conn.close(lost);
    const info: ExitInfo = { code, signal, reason, lostCalls: sinks.length };
    if (this.proc?.lostWithZygote === true) info.withZygote = true;
    this.hooks.onExit(this, info);
    this.resolveExited(info);
  }

  /** Resolves when the process has exited and every pending call was settled. */
  whenExited(): Promise<ExitInfo> {
    return this.exited;
  }
}
