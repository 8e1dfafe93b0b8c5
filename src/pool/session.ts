/**
 * A session: calls that share Python state. Every call of a session runs on one worker, chosen
 * least-loaded at its first call; the worker keeps `ctx.session.state` and the session's references.
 * If that worker dies the session is lost (SESSION_LOST), never moved silently to a worker with empty
 * state, unless it was opened with `{ onLost: 'rebind' }`. `Session` is the public face; SessionCore
 * holds the state and SessionManager (session-manager.ts) places the calls.
 */

import {
  InvalidRefError,
  SessionClosedError,
  SessionLostError,
  type SessionLostReason,
  type SnakepitError,
} from '../errors.js';
import type { CallOptions, ExecuteOptions, HostToolOptions, ResolvedSessionOptions, StreamOptions } from '../call-options.js';
import { sessionEndMessage } from '../protocol/messages.js';
import type { WorkerHandle } from '../worker/worker.js';
import type { CallConsumer } from './call.js';
import { HostToolRegistry, type HostToolFn, type HostToolInfo } from './host-tools.js';
import { PythonCalls } from './python-calls.js';
import { decodeRefs, type PythonRef, type RefOwner } from './python-refs.js';
import type { SessionManager } from './session-manager.js';
import type { ToolStream } from './stream.js';

export type SessionState = 'open' | 'lost' | 'closed';

/** How a call is routed: in a session, and/or to a built-in tool (`$python.*`, `$ref.*`). */
export interface CallRoute {
  session?: SessionCore;
  builtin?: boolean;
}

export class SessionCore implements RefOwner {
  state: SessionState = 'open';
  /** The worker holding the session's state; undefined until the first call is placed. */
  worker: WorkerHandle | undefined;
  /** Calls of the current binding that reached the worker: above 0, the worker holds state. */
  dispatched = 0;
  /** Bumped when a session opened with `onLost: 'rebind'` moves on: older handles are void. */
  generation = 0;
  lostError: SessionLostError | undefined;
  hostTools: HostToolRegistry | undefined;
  readonly face: Session;
  readonly python: PythonCalls;
  readonly createdAt = performance.now();
  /** Calls accepted and not yet settled for the caller. */
  private active = 0;
  private idle: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private releases: number[] = [];
  private releaseScheduled = false;
  /** Handles alive in a private session (one made by `pool.python.create`); it closes at zero. */
  private handles = 0;

  constructor(
    private readonly manager: SessionManager,
    readonly id: string,
    readonly options: ResolvedSessionOptions,
    readonly isPrivate: boolean,
  ) {
    this.face = new Session(this);
    this.python = new PythonCalls(manager.host, this);
    const ttl = manager.host.options.sessionTtl;
    if (ttl > 0) {
      this.ttlTimer = setTimeout(this.expire, ttl);
      this.ttlTimer.unref();
    }
  }

  get timeout(): number {
    return this.manager.host.options.timeout;
  }

  // ----------------------------------------------------------------- calling

  execute(tool: string, args: Record<string, unknown> | undefined, options?: ExecuteOptions): Promise<unknown> {
    return this.manager.host.execute(tool, args, options, { session: this });
  }

  stream<T>(tool: string, args: Record<string, unknown> | undefined, options?: StreamOptions): ToolStream<T> {
    return this.manager.host.stream<T>(tool, args, options, { session: this });
  }

  /** Run a built-in tool (`$ref.call`, `$python.create`, ...) in this session. */
  run(tool: string, args: Record<string, unknown>, options: CallOptions | undefined): Promise<unknown> {
    return this.manager.host.execute(tool, args, options, { session: this, builtin: true });
  }

  /** Why a new call cannot run in this session, or undefined. */
  refusal(): SnakepitError | undefined {
    if (this.state === 'closed') return new SessionClosedError(this.id);
    if (this.state === 'lost') {
      const lost = this.lostError!;
      return new SessionLostError(this.id, lost.reason, lost.message, { cause: lost.cause, workerId: lost.workerId, pid: lost.pid });
    }
    return undefined;
  }

  /**
   * The consumer of one of this session's calls: results have their references turned into handles.
   * (A worker crash becomes SESSION_LOST in Call.fail, through `translate`, so statistics agree.)
   */
  wrap(consumer: CallConsumer): CallConsumer {
    this.active++;
    this.ttlTimer?.refresh();
    let done = false;
    const settle = (): void => {
      if (done) return;
      done = true;
      this.settled();
    };
    return {
      value: (value) => {
        settle();
        consumer.value(this.decode(value));
      },
      chunk: (value) => consumer.chunk(this.decode(value)),
      end: () => {
        settle();
        consumer.end();
      },
      fail: (error) => {
        settle();
        consumer.fail(error);
      },
    };
  }

  private settled(): void {
    this.active--;
    this.ttlTimer?.refresh();
    if (this.active === 0 && this.idle !== undefined) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }

  /** A worker crash under a session call means the session's state is gone: SESSION_LOST. */
  translate(error: SnakepitError): SnakepitError {
    if (error.code !== 'WORKER_CRASHED' || this.options.onLost === 'rebind') return error;
    if (this.state === 'open' && this.worker !== undefined && error.workerId === this.worker.id) {
      this.markLost('worker-exit', `the worker of session ${JSON.stringify(this.id)} (pid ${this.worker.pid}) died; its state is lost`, error);
    }
    if (this.state !== 'lost') return error;
    return this.refusal()!;
  }

  /** Turn the reference maps in a result into handles owned by this session. */
  decode(value: unknown): unknown {
    if (value === null || typeof value !== 'object') return value;
    return decodeRefs(value, this, this.countHandle);
  }

  private readonly countHandle = (_ref: PythonRef): void => {
    this.handles++;
  };

  // -------------------------------------------------------------- references

  refProblem(generation: number): SnakepitError | undefined {
    if (this.state === 'lost') return this.refusal();
    if (this.state === 'closed') return new InvalidRefError(`session ${JSON.stringify(this.id)} is closed; its references were released`);
    if (generation !== this.generation) {
      return new InvalidRefError(
        `session ${JSON.stringify(this.id)} moved to another worker after its worker died; this reference's object is gone`,
      );
    }
    return undefined;
  }

  dropRef(id: number, generation: number, explicit: boolean): Promise<void> {
    if (this.isPrivate && --this.handles <= 0) return this.close();
    if (this.refProblem(generation) !== undefined) return Promise.resolve();
    this.releases.push(id);
    if (explicit) return this.flushReleases();
    if (!this.releaseScheduled) {
      this.releaseScheduled = true;
      setImmediate(() => void this.flushReleases());
    }
    return Promise.resolve();
  }

  private flushReleases(): Promise<void> {
    this.releaseScheduled = false;
    const ids = this.releases;
    this.releases = [];
    if (ids.length === 0 || this.state !== 'open') return Promise.resolve();
    return this.run('$ref.release', { ids }, undefined).then(
      () => undefined,
      () => undefined, // best effort: everything is freed when the session ends anyway
    );
  }

  // ---------------------------------------------------------------- host tools

  registerTool(name: string, fn: HostToolFn, options?: HostToolOptions): () => void {
    this.hostTools ??= new HostToolRegistry();
    return this.hostTools.register(name, fn, options);
  }

  // ------------------------------------------------------------------ ending

  /** The session's state is gone: fail what waits, refuse what comes, keep the reason. */
  markLost(reason: SessionLostReason, message: string, cause?: SnakepitError): void {
    if (this.state !== 'open') return;
    const worker = this.worker;
    this.lostError = new SessionLostError(this.id, reason, message, { cause, workerId: worker?.id, pid: worker?.pid });
    this.state = 'lost';
    this.manager.unbind(this);
    this.manager.failQueued(this, () => this.refusal()!);
  }

  /** After its worker died, a session opened with `onLost: 'rebind'` (or one with no state yet) moves on. */
  rebind(): void {
    if (this.dispatched > 0) this.generation++;
    this.dispatched = 0;
    this.worker = undefined;
  }

  /** Tell the worker to free the session's state, if it holds any. */
  sendEnd(): void {
    const worker = this.worker;
    if (worker === undefined || this.dispatched === 0 || worker.state === 'exited') return;
    try {
      worker.send(worker.encode(sessionEndMessage(this.id)));
    } catch {
      /* the worker is gone, and the state with it */
    }
  }

  private readonly expire = (): void => {
    if (this.active > 0) {
      this.ttlTimer?.refresh();
      return;
    }
    this.ttlTimer = undefined;
    if (this.state === 'open') {
      const ttl = this.manager.host.options.sessionTtl;
      this.sendEnd();
      this.markLost('expired', `session ${JSON.stringify(this.id)} expired after ${ttl} ms idle (sessionTtl); its state was freed`);
    }
    this.manager.forget(this);
  };

  /**
   * Close: refuse new calls, fail queued ones, free the worker's state now (`session_end`; Python's
   * `teardown_session` runs once the calls in progress finish). Resolves when those calls have settled.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (this.ttlTimer !== undefined) clearTimeout(this.ttlTimer);
    this.ttlTimer = undefined;
    this.manager.failQueued(this, () => new SessionClosedError(this.id));
    if (wasOpen) this.sendEnd();
    this.manager.unbind(this);
    this.manager.forget(this);
    this.closing = this.active === 0 ? Promise.resolve() : new Promise((resolve) => (this.idle = resolve));
    return this.closing;
  }

  /** The pool stopped: no session_end (the workers tear their sessions down as they exit). */
  abandon(): void {
    if (this.state === 'open') this.state = 'closed';
    if (this.ttlTimer !== undefined) clearTimeout(this.ttlTimer);
    this.ttlTimer = undefined;
  }
}

/** The public face of a session: `pool.session(id?, options?)`. */
export class Session {
  readonly #core: SessionCore;

  constructor(core: SessionCore) {
    this.#core = core;
  }

  get id(): string {
    return this.#core.id;
  }

  /** `open`, `lost` (its worker died or it expired; see `lostError`), or `closed`. */
  get state(): SessionState {
    return this.#core.state;
  }

  /** Why the session was lost, once it is. */
  get lostError(): SessionLostError | undefined {
    return this.#core.lostError;
  }

  /** The worker the session is bound to, or was last bound to (undefined before its first call). */
  get workerId(): number | undefined {
    return this.#core.worker?.id;
  }

  get pid(): number | undefined {
    return this.#core.worker?.pid;
  }

  /** Allowlisted Python calls whose references live in this session. */
  get python(): PythonCalls {
    return this.#core.python;
  }

  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T> {
    return this.#core.execute(tool, args, options) as Promise<T>;
  }

  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: StreamOptions): ToolStream<T> {
    return this.#core.stream<T>(tool, args, options);
  }

  /** A host tool only this session's calls see (it shadows a pool tool of the same name). */
  registerTool(name: string, fn: HostToolFn, options?: HostToolOptions): () => void {
    return this.#core.registerTool(name, fn, options);
  }

  unregisterTool(name: string): boolean {
    return this.#core.hostTools?.unregister(name) ?? false;
  }

  hostTools(): readonly HostToolInfo[] {
    return this.#core.hostTools?.list() ?? [];
  }

  /** Free the session's Python state now and refuse further calls. Idempotent. */
  close(): Promise<void> {
    return this.#core.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
