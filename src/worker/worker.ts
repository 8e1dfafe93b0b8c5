/**
 * One Python worker process: spawn, handshake, the map of calls in flight, and kill escalation.
 *
 * Every call handed to `dispatch` ends in exactly one of the sink's terminal callbacks: the worker's
 * reply, or `onWorkerLost` when the process goes away. Sending to a dead worker throws.
 */

import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import {
  PayloadTooLargeError,
  ProtocolError,
  SnakepitError,
  WorkerCrashedError,
  WorkerStartError,
  type ErrorFields,
} from '../errors.js';
import { EncodeLimitError, JsonCodec, makeCodec, type Codec } from '../protocol/codec.js';
import { FrameDecoder, HEADER_BYTES, type Frame } from '../protocol/frames.js';
import { checkHello } from '../protocol/handshake.js';
import { Msg, type CodecName, type HelloInfo, type WireError } from '../protocol/messages.js';
import type { WorkerExitReason } from '../events.js';
import { Heartbeat } from './heartbeat.js';
import { LineTail, readLines } from './lines.js';
import { Outbox } from './outbox.js';
import { killGroup, spawnWorker } from './process.js';
import { sandboxExit, type ResolvedSandbox } from '../security/sandbox.js';
import { trackWorker, untrackWorker } from './registry.js';

export type WorkerState = 'starting' | 'ready' | 'stopping' | 'exited';
export type ExitReason = WorkerExitReason;
export type LogStream = 'stdout' | 'stderr' | 'worker';

/** The receiving end of one call on a worker. Exactly one terminal callback is called. */
export interface CallSink {
  readonly id: number;
  readonly tool: string;
  onResult(value: unknown): void;
  onError(error: WireError): void;
  onChunk(value: unknown): void;
  onEnd(): void;
  onWorkerLost(error: SnakepitError): void;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: ExitReason;
  /** Calls in flight when the process went away. */
  lostCalls?: number;
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
  env: Readonly<Record<string, string>>;
  concurrency: number;
  maxPayload: number;
  codecs: readonly CodecName[];
  startupTimeout: number;
  killGrace: number;
  /** RLIMIT_AS in bytes set by the worker at startup (0: none). */
  memoryLimit: number;
  /** Id of the pool's run, exported to the worker as SNAKEPIT_RUN_ID (run registry). */
  runId: string;
  /** How integers in results arrive (the `int64` pool option). Default `auto`. */
  int64?: 'auto' | 'number' | 'bigint';
  /** Why `python` was chosen, for start-up errors (`$SNAKEPIT_PYTHON`, `a .venv beside the adapter`...). */
  pythonReason?: string;
  /** Run the worker under bubblewrap (src/security/sandbox.ts). */
  sandbox?: ResolvedSandbox | undefined;
}

const STDERR_TAIL_LINES = 40;
const STDERR_FLUSH_MS = 50;

export class WorkerHandle {
  readonly id: number;
  state: WorkerState = 'starting';
  pid: number | undefined;
  info: HelloInfo | undefined;
  /** Calls sent and not yet answered, including ones the caller gave up on (their slot stays taken). */
  readonly pending = new Map<number, CallSink>();
  completed = 0;
  readonly startedAt = performance.now();
  /** performance.now() when the worker became ready (0 before). */
  readyAt = 0;
  /** Supervision: a retiring worker takes no new calls; it finishes its calls and is then shut down. */
  retiring = false;
  readonly heartbeat = new Heartbeat();
  /** Bytes written to and read from the worker's protocol pipes (metrics). */
  bytesOut = 0;
  bytesIn = 0;

  private codec: Codec = new JsonCodec();
  private child: ChildProcess | undefined;
  private toWorker: Writable | undefined;
  private fromWorker: Readable | undefined;
  private readonly stderrTail = new LineTail(STDERR_TAIL_LINES);
  private stderrDone: Promise<void> = Promise.resolve();
  private exitReason: ExitReason | undefined;
  private exitError: SnakepitError | undefined;
  private fatal: WireError | undefined;
  private refed = false;
  private outbox: Outbox | undefined;
  private pingNonce = 0;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly exited: Promise<ExitInfo>;
  private resolveExited!: (info: ExitInfo) => void;
  private startSettle: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    private readonly spec: WorkerSpec,
    private readonly hooks: WorkerHooks,
  ) {
    this.id = spec.id;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  get concurrency(): number {
    return this.spec.concurrency;
  }

  /** Free request slots: the worker may take this many more calls now. */
  get free(): number {
    return this.state === 'ready' && !this.retiring ? this.spec.concurrency - this.pending.size : 0;
  }

  get stderr(): string {
    return this.stderrTail.text();
  }

  /** Spawn the process; resolves once the worker said hello and answered a ping. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.startSettle = { resolve, reject };
      const startTimer = setTimeout(() => {
        this.failStart(
          new WorkerStartError(
            `worker ${this.id} did not become ready within startupTimeout (${this.spec.startupTimeout} ms)`,
            { workerId: this.id, pid: this.pid, phase: 'timeout', stderrTail: this.stderr },
          ),
        );
      }, this.spec.startupTimeout);
      startTimer.unref();
      const clear = (): void => clearTimeout(startTimer);
      this.startSettle = {
        resolve: () => (clear(), resolve()),
        reject: (err) => (clear(), reject(err)),
      };
      this.spawn();
    });
  }

  private spawn(): void {
    let proc;
    try {
      proc = spawnWorker({
        python: this.spec.python,
        adapter: this.spec.adapter,
        cwd: this.spec.cwd,
        env: this.spec.env,
        workerId: this.id,
        concurrency: this.spec.concurrency,
        maxPayload: this.spec.maxPayload,
        codecs: this.spec.codecs,
        memoryLimit: this.spec.memoryLimit,
        runId: this.spec.runId,
        sandbox: this.spec.sandbox,
      });
    } catch (err) {
      this.onSpawnError(err as NodeJS.ErrnoException);
      return;
    }
    const { child, toWorker, fromWorker, stdout, stderr } = proc;
    this.child = child;
    this.toWorker = toWorker;
    this.outbox = new Outbox(toWorker);
    this.fromWorker = fromWorker;
    this.pid = child.pid;
    child.on('error', (err) => this.onSpawnError(err as NodeJS.ErrnoException));
    child.on('exit', (code, signal) => this.onChildExit(...(this.spec.sandbox ? sandboxExit(code, signal) : ([code, signal] as const))));
    toWorker.on('error', () => {
      /* EPIPE after the worker died: the exit handler settles everything. */
    });
    fromWorker.on('error', () => {});
    stdout.on('error', () => {});
    stderr.on('error', () => {});
    this.stderrDone = new Promise((resolve) => stderr.once('close', resolve));
    readLines(stdout, (line) => this.hooks.onLog(this, 'stdout', line));
    readLines(stderr, (line) => {
      this.stderrTail.push(line);
      this.hooks.onLog(this, 'stderr', line);
    });
    const decoder = new FrameDecoder(this.spec.maxPayload, this.onFrame);
    fromWorker.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      try {
        decoder.push(chunk);
      } catch (err) {
        this.protocolFailure(err);
      }
    });
    for (const s of [stdout, stderr, toWorker] as unknown as { unref?: () => void }[]) s.unref?.();
    this.setRef(true);
    if (this.pid !== undefined) {
      trackWorker(this);
      this.hooks.onSpawn(this);
    }
  }

  /**
   * Keep the host's event loop alive while it waits on this worker (starting, calls in flight,
   * stopping); an idle ready worker holds nothing, so an idle pool never keeps the host running.
   */
  private setRef(on: boolean): void {
    if (on === this.refed) return;
    this.refed = on;
    const sock = this.fromWorker as unknown as { ref?: () => void; unref?: () => void } | undefined;
    if (on) {
      sock?.ref?.();
      this.child?.ref();
    } else {
      sock?.unref?.();
      this.child?.unref();
    }
  }

  // ------------------------------------------------------------------ sending

  /** Write one complete frame. Throws WorkerCrashedError if the worker is gone. */
  send(frame: Frame): void {
    const out = this.toWorker;
    if (this.state === 'exited' || out === undefined || out.destroyed) {
      throw new WorkerCrashedError(`worker ${this.id} is not running`, { workerId: this.id, pid: this.pid });
    }
    this.bytesOut += frame.length;
    this.outbox!.send(frame);
  }

  /** Send a call's frame and track it until the worker answers or dies. */
  dispatch(sink: CallSink, frame: Frame): void {
    this.send(frame);
    this.pending.set(sink.id, sink);
    this.setRef(true);
  }

  /**
   * Encode a message for this worker. Throws EncodeError, or PayloadTooLargeError (naming `what`) when
   * the frame would exceed maxPayload: the one place the host checks what it sends.
   */
  encode(message: unknown, what = 'message', fields: ErrorFields = {}): Frame {
    let frame: Frame;
    try {
      frame = this.codec.encode(message, this.spec.maxPayload);
    } catch (err) {
      if (err instanceof EncodeLimitError) throw new PayloadTooLargeError(err.size, this.spec.maxPayload, what, fields);
      throw err;
    }
    const size = frame.length - HEADER_BYTES;
    if (size > this.spec.maxPayload) throw new PayloadTooLargeError(size, this.spec.maxPayload, what, fields);
    return frame;
  }


  cancel(id: number): void {
    if (this.state !== 'exited') this.trySend([Msg.CANCEL, id]);
  }

  /**
   * Grant stream credit. Written at once rather than at the end of the tick: a consumer that takes
   * buffered chunks runs one long chain of microtasks, and the worker would wait for the credit until
   * the buffer is empty.
   */
  credit(id: number, n: number): void {
    if (this.state === 'exited') return;
    try {
      this.send(this.codec.encodeFrame([Msg.CREDIT, id, n]));
      this.outbox?.flush();
    } catch {
      /* the worker is going away; its exit settles the call */
    }
  }

  /** Send a heartbeat ping unless one is outstanding (see heartbeat.ts). */
  ping(now: number): void {
    if (this.state !== 'ready') return;
    const nonce = this.heartbeat.next(now);
    if (nonce !== undefined) this.trySend([Msg.PING, nonce]);
  }

  private trySend(message: unknown[]): void {
    try {
      this.send(this.codec.encodeFrame(message));
    } catch {
      /* the worker is going away; its exit settles the call */
    }
  }

  // ---------------------------------------------------------------- receiving

  private readonly onFrame = (payload: Buffer): void => {
    const msg = this.codec.decode(payload);
    if (!Array.isArray(msg) || typeof msg[0] !== 'number') {
      throw new ProtocolError(`worker ${this.id} sent a frame that is not a protocol message`);
    }
    switch (msg[0]) {
      case Msg.RESULT: {
        const sink = this.take(msg[1]);
        if (sink) {
          sink.onResult(msg[2]);
          this.hooks.onSettled(this, sink);
        }
        return;
      }
      case Msg.ERROR: {
        const sink = this.take(msg[1]);
        if (sink) {
          sink.onError(msg[2] as WireError);
          this.hooks.onSettled(this, sink);
        }
        return;
      }
      case Msg.CHUNK:
        this.pending.get(msg[1])?.onChunk(msg[2]);
        return;
      case Msg.END: {
        const sink = this.take(msg[1]);
        if (sink) {
          sink.onEnd();
          this.hooks.onSettled(this, sink);
        }
        return;
      }
      case Msg.PONG:
        if (this.state === 'starting' && msg[1] === this.pingNonce) this.becomeReady();
        else this.heartbeat.pong(msg[1], performance.now());
        return;
      case Msg.HOST_CALL:
        this.hooks.onHostCall?.(this, msg[1], msg[2], msg[3], msg[4], msg[5]);
        return;
      case Msg.LOG:
        // A tool's stderr lines come as log frames; they belong in the tail a crash error carries.
        if (msg[1] === 'stderr') this.stderrTail.push(String(msg[2]));
        this.hooks.onLog(this, 'worker', String(msg[2]), String(msg[1]), msg[3] ?? undefined, msg[4], msg[5]);
        return;
      case Msg.HELLO:
        this.onHello(msg[1] as HelloInfo);
        return;
      case Msg.FATAL:
        this.fatal = msg[1] as WireError;
        return;
      default:
        throw new ProtocolError(`worker ${this.id} sent an unknown message kind ${String(msg[0])}`);
    }
  };

  private take(id: number): CallSink | undefined {
    const sink = this.pending.get(id);
    if (sink === undefined) return undefined;
    this.pending.delete(id);
    this.completed++;
    if (this.pending.size === 0 && this.state === 'ready') this.setRef(false);
    return sink;
  }

  private onHello(info: HelloInfo): void {
    if (this.state !== 'starting' || this.info !== undefined) {
      throw new ProtocolError(`worker ${this.id} sent hello twice`);
    }
    const problem = checkHello(info, this.spec.codecs);
    if (problem !== undefined) {
      this.failStart(new WorkerStartError(`worker ${this.id}: ${problem}`, { workerId: this.id, pid: this.pid, phase: 'handshake' }));
      return;
    }
    this.info = info;
    this.codec = makeCodec(info.codec, this.spec.int64);
    this.pingNonce = 1 + Math.floor(Math.random() * 1e9);
    this.send(this.codec.encodeFrame([Msg.PING, this.pingNonce]));
  }

  private becomeReady(): void {
    this.state = 'ready';
    this.readyAt = performance.now();
    if (this.pending.size === 0) this.setRef(false);
    const settle = this.startSettle;
    this.startSettle = undefined;
    settle?.resolve();
  }

  private protocolFailure(err: unknown): void {
    const error =
      err instanceof SnakepitError
        ? err
        : new ProtocolError(`worker ${this.id} broke the protocol: ${String(err)}`, { cause: err });
    if (this.state === 'starting') {
      this.failStart(new WorkerStartError(`worker ${this.id}: ${error.message}`, { workerId: this.id, pid: this.pid, phase: 'handshake', cause: error }));
      return;
    }
    void this.kill('protocol-error', error);
  }

  // ----------------------------------------------------------------- stopping

  /** Ask the worker to finish and exit; kill it if it has not exited within `killGrace`. */
  shutdown(reason: ExitReason = 'shutdown'): Promise<ExitInfo> {
    if (this.state === 'exited') return this.exited;
    if (this.state === 'starting') return this.kill(reason);
    this.state = 'stopping';
    this.setRef(true);
    this.exitReason ??= reason;
    this.trySend([Msg.SHUTDOWN]);
    this.outbox?.flush();
    this.toWorker?.end();
    this.armKillTimer(this.spec.killGrace, 'SIGTERM');
    return this.exited;
  }

  /** SIGTERM the process group, SIGKILL after `killGrace`; resolves once the process has exited. */
  kill(reason: ExitReason, error?: SnakepitError): Promise<ExitInfo> {
    if (this.state === 'exited') return this.exited;
    this.exitReason ??= reason;
    this.exitError ??= error;
    if (this.state !== 'stopping') this.state = 'stopping';
    if (this.pid === undefined) return this.exited;
    this.setRef(true);
    killGroup(this.pid, 'SIGTERM');
    // A stopped (wedged) process only acts on SIGTERM once continued.
    if (reason === 'wedged') killGroup(this.pid, 'SIGCONT');
    this.armKillTimer(this.spec.killGrace, 'SIGKILL');
    return this.exited;
  }

  /** Synchronous SIGKILL of the group, for process exit. */
  killNow(): void {
    if (this.pid !== undefined && this.state !== 'exited') killGroup(this.pid, 'SIGKILL');
  }

  private armKillTimer(ms: number, first: 'SIGTERM' | 'SIGKILL'): void {
    if (this.killTimer !== undefined || this.pid === undefined) return;
    const pid = this.pid;
    this.killTimer = setTimeout(() => {
      killGroup(pid, first === 'SIGTERM' ? 'SIGTERM' : 'SIGKILL');
      if (first === 'SIGTERM') {
        this.killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), this.spec.killGrace);
      }
    }, ms);
  }

  private failStart(error: WorkerStartError): void {
    const settle = this.startSettle;
    this.startSettle = undefined;
    settle?.reject(error);
    void this.kill('start-failed', error);
  }

  private onSpawnError(err: NodeJS.ErrnoException): void {
    if (this.pid !== undefined && this.state !== 'starting') return;
    const error = new WorkerStartError(
      `cannot run Python executable ${JSON.stringify(this.spec.python)}${this.spec.pythonReason ? ` (chosen by ${this.spec.pythonReason})` : ''}: ${err.code ?? err.message}`,
      { workerId: this.id, phase: 'spawn', cause: err },
    );
    const settle = this.startSettle;
    this.startSettle = undefined;
    settle?.reject(error);
    if (this.pid === undefined) this.finishExit(null, null);
  }

  private onChildExit(code: number | null, signal: NodeJS.Signals | null): void {
    // Anything the adapter started in the group goes down with the worker.
    if (this.pid !== undefined) killGroup(this.pid, 'SIGKILL');
    const flushed = Promise.race([this.stderrDone, new Promise((r) => setTimeout(r, STDERR_FLUSH_MS))]);
    void flushed.then(() => this.finishExit(code, signal));
  }

  private finishExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state === 'exited') return;
    const wasStarting = this.startSettle !== undefined;
    this.state = 'exited';
    if (this.killTimer !== undefined) clearTimeout(this.killTimer);
    untrackWorker(this);
    this.setRef(false);
    const reason: ExitReason = this.exitReason ?? (wasStarting ? 'start-failed' : 'crash');
    const stderrTail = this.stderr;
    if (wasStarting) {
      const settle = this.startSettle;
      this.startSettle = undefined;
      settle?.reject(this.startError(code, signal, stderrTail));
    }
    const lost = this.exitError ?? this.crashError(code, signal, reason, stderrTail);
    const sinks = [...this.pending.values()];
    this.pending.clear();
    for (const sink of sinks) {
      sink.onWorkerLost(lost);
      this.hooks.onSettled(this, sink);
    }
    const info = { code, signal, reason, lostCalls: sinks.length };
    this.hooks.onExit(this, info);
    this.resolveExited(info);
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    return signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
  }

  private startError(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): WorkerStartError {
    const fatal = this.fatal;
    if (fatal) {
      const where = fatal.phase === 'setup' ? 'setup() of the adapter failed' : `cannot load adapter ${JSON.stringify(this.spec.adapter)} with Python ${JSON.stringify(this.spec.python)}`;
      const what = fatal.type ? `${fatal.type}: ${fatal.message}` : fatal.message;
      return new WorkerStartError(`worker ${this.id}: ${where}: ${what}\n${fatal.traceback}`, {
        workerId: this.id,
        pid: this.pid,
        phase: fatal.phase ?? 'import',
        stderrTail,
        exitCode: code,
        signal,
        pythonTraceback: fatal.traceback,
      });
    }
    const tail = stderrTail ? `\n--- stderr ---\n${stderrTail}` : '';
    return new WorkerStartError(`worker ${this.id} ${this.describeExit(code, signal)} before it was ready${tail}`, {
      workerId: this.id,
      pid: this.pid,
      phase: 'start',
      stderrTail,
      exitCode: code,
      signal,
    });
  }

  private crashError(
    code: number | null,
    signal: NodeJS.Signals | null,
    reason: ExitReason,
    stderrTail: string,
  ): SnakepitError {
    const why =
      reason === 'shutdown' || reason === 'killed' || reason === 'recycled'
        ? 'was stopped'
        : reason === 'cancel-grace'
          ? 'was killed after a call ignored cancellation'
          : this.describeExit(code, signal);
    const tail = stderrTail ? `\n--- stderr ---\n${stderrTail}` : '';
    return new WorkerCrashedError(`worker ${this.id} (pid ${this.pid}) ${why} with the call in flight${tail}`, {
      workerId: this.id,
      pid: this.pid,
      exitCode: code,
      signal,
      stderrTail,
    });
  }

  /** Resolves when the process has exited and every pending call was settled. */
  whenExited(): Promise<ExitInfo> {
    return this.exited;
  }

}
