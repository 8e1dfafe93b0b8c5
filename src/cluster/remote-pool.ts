/**
 * A remote pool: `Pool.connect({ nats, pool })`. Same surface as a local Pool (PoolLike); calls go to
 * the agents serving the pool, chosen by free capacity; sessions are pinned to one agent; an agent
 * lost mid-call fails the call with AGENT_LOST (retried on another agent only when idempotent).
 * The routing lives in remote-router.ts; this is the public face.
 */

import { nodeCrypto } from '../boot/crypto.js';
import type { NatsConnection } from 'nats';
import { CallAbortedError, ClusterUnavailableError, InvalidArgumentsError, InvalidOptionsError, PoolClosedError, SnakepitError } from '../errors.js';
import { FactoryOnly } from '../factory-only.js';
import { checkCallOptions, checkPythonCallOptions, checkSessionOptions, type ExecuteOptions, type HostToolOptions, type PythonCallOptions, type SessionOptions, type StreamOptions } from '../call-options.js';
import type { HostToolFn, HostToolInfo } from '../pool/host-tools.js';
import type { ToolStream } from '../pool/stream.js';
import type { ToolInfo } from '../pool/tools.js';
import { checkConnectOptions, type ResolvedConnectOptions } from './connect-options.js';
import { checkNatsOptions, closeConnection, connectNats, type NatsModule } from './nats.js';
import { RemoteCall, type CallKind } from './remote-call.js';
import { RemoteRouter, type RemotePoolStats } from './remote-router.js';
import { RemoteSession, type RemoteSessionHost } from './remote-session.js';
import type { ConnectOptions, PoolLike, PythonCaller } from './types.js';
import { FLAG_COLLECT, FLAG_IDEMPOTENT, K, subjects } from './wire.js';

export type { RemotePoolEventMap, RemotePoolStats } from './remote-router.js';

const factory = new FactoryOnly(() => new InvalidOptionsError('a RemotePool is made by `await Pool.connect(options)`, not by `new RemotePool()`'));

export class RemotePool extends RemoteRouter implements PoolLike, RemoteSessionHost {
  #state: 'ready' | 'draining' | 'closed' = 'ready';
  private nextId = 1;
  private closing: Promise<void> | undefined;
  readonly python: PythonCaller = {
    call: <T>(name: string, args: unknown[] = [], options?: PythonCallOptions): Promise<T> => this.pythonCall(name, args, options) as Promise<T>,
  };

  private constructor(options: ResolvedConnectOptions, nats: NatsModule, nc: NatsConnection) {
    factory.admit();
    super(options, nats, nc);
  }

  /** Connect to NATS, find the pool's agents, and resolve once one is there (see `waitForAgents`). */
  static async connect(options: ConnectOptions): Promise<RemotePool> {
    const resolved = checkConnectOptions(options);
    const nats = checkNatsOptions(resolved.nats, 'options.nats');
    const { nats: mod, nc } = await connectNats(nats, `snakepit-host-${resolved.pool}`);
    const pool = factory.make(() => new RemotePool(resolved, mod, nc));
    try {
      await pool.open();
    } catch (err) {
      await nc.close().catch(() => {});
      throw err instanceof SnakepitError ? err : new ClusterUnavailableError(`cannot open pool ${resolved.pool}: ${String(err)}`, { cause: err });
    }
    return pool;
  }
  protected get closed(): boolean {
    return this.#state === 'closed';
  }

  // ----------------------------------------------------------------- calling

  get state(): 'ready' | 'draining' | 'closed' {
    return this.#state;
  }

  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T> {
    return this.submitPromise(K.EXECUTE, tool, args, options, undefined) as Promise<T>;
  }

  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: StreamOptions): ToolStream<T> {
    return this.submitStream<T>(tool, args, options, undefined);
  }

  session(id?: string, options?: SessionOptions): RemoteSession {
    checkSessionOptions(id, options);
    if (this.#state !== 'ready') throw new PoolClosedError(`pool is ${this.#state}; no new sessions`);
    const known = id === undefined ? undefined : this.sessions.get(id);
    if (known !== undefined && known.state === 'open') return known;
    const session = new RemoteSession(this, id ?? nodeCrypto().randomUUID(), id !== undefined);
    this.sessions.set(session.id, session);
    return session;
  }

  sessionExecute(session: RemoteSession, tool: string, args: Record<string, unknown> | undefined, options?: ExecuteOptions): Promise<unknown> {
    return this.submitPromise(K.EXECUTE, tool, args, options, session);
  }

  sessionStream<T>(session: RemoteSession, tool: string, args: Record<string, unknown> | undefined, options?: StreamOptions): ToolStream<T> {
    return this.submitStream<T>(tool, args, options, session);
  }

  async sessionClose(session: RemoteSession): Promise<void> {
    this.sessions.delete(session.id);
    if (session.agent === undefined || !this.directory.agents.has(session.agent)) return;
    const data = this.bulk.sendable('', [K.SESSION_CLOSE, 0, this.hostId, '', null, 0, session.id, 0, 0, null]) as Uint8Array;
    await this.nc.request(`${subjects.agent(this.options.pool, session.agent)}.call`, data, { timeout: 5000 }).catch(() => {});
  }

  private pythonCall(name: string, args: unknown[], options: PythonCallOptions | undefined): Promise<unknown> {
    try {
      if (typeof name !== 'string') throw new InvalidArgumentsError(`a Python name must be a string, got ${typeof name}`);
      if (!Array.isArray(args)) throw new InvalidArgumentsError(`arguments of ${name} must be an array of positional arguments`);
      const { kwargs, call } = checkPythonCallOptions(options, this.options.timeout);
      return this.submitPromise(K.PYCALL, name, { args, kwargs }, call, undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private submitPromise(
    kind: CallKind,
    tool: string,
    args: unknown,
    options: ExecuteOptions | undefined,
    session: RemoteSession | undefined,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call = this.makeCall(kind, tool, args, options, session, resolve, reject);
      if (call !== undefined) this.dispatch(call, session);
    });
  }

  private submitStream<T>(tool: string, args: unknown, options: StreamOptions | undefined, session: RemoteSession | undefined): ToolStream<T> {
    let early: SnakepitError | undefined;
    const call = this.makeCall(K.STREAM, tool, args, options, session, () => {}, (err) => (early = err));
    if (call === undefined) throw early!;
    this.dispatch(call, session);
    return call.stream as ToolStream<T>;
  }

  /** Validate and create a call; undefined (after `reject`) when it cannot be accepted. */
  private makeCall(
    kind: CallKind,
    tool: string,
    args: unknown,
    options: (ExecuteOptions & StreamOptions) | undefined,
    session: RemoteSession | undefined,
    resolve: (v: unknown) => void,
    reject: (e: SnakepitError) => void,
  ): RemoteCall | undefined {
    this.counts.submitted++;
    let timeout: number;
    try {
      timeout = checkCallOptions(options, this.options.timeout);
      if (typeof tool !== 'string') throw new InvalidArgumentsError(`tool name must be a string, got ${typeof tool}`);
      if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
        throw new InvalidArgumentsError(`arguments of ${tool} must be an object of keyword arguments`, { tool });
      }
      if (this.#state !== 'ready') throw new PoolClosedError(`pool is ${this.#state}; no new calls are accepted`);
      const refused = session?.refusal();
      if (refused !== undefined) throw refused;
      if (options?.signal?.aborted === true) throw new CallAbortedError(tool, options.signal.reason);
    } catch (err) {
      this.record(err as SnakepitError);
      reject(err as SnakepitError);
      return undefined;
    }
    const flags = (options?.idempotent === true ? FLAG_IDEMPOTENT : 0) | (options?.collect === true ? FLAG_COLLECT : 0);
    const window = options?.window ?? this.options.streamWindow;
    const call = new RemoteCall(this, this.nextId++, kind, tool, (args ?? {}) as Record<string, unknown>, timeout, flags, window,
      options?.idleTimeout ?? 0, options?.signal, session?.id ?? null, resolve, reject);
    this.pending.set(call.id, call);
    return call;
  }
  // ----------------------------------------------------------------- host tools, catalogue, stats

  registerTool(name: string, fn: HostToolFn, options?: HostToolOptions): () => void {
    const off = this.registry.register(name, fn, options);
    this.hostToolList = null;
    return () => {
      off();
      this.hostToolList = null;
    };
  }

  unregisterTool(name: string): boolean {
    this.hostToolList = null;
    return this.registry.unregister(name);
  }

  hostTools(): readonly HostToolInfo[] {
    return this.registry.list();
  }

  /** The tool catalogue announced by the pool's agents. */
  tools(): readonly ToolInfo[] {
    for (const a of this.directory.agents.values()) if (a.record.tools.length > 0) return a.record.tools;
    return [];
  }

  stats(): RemotePoolStats {
    return Object.freeze({
      state: this.#state,
      inFlight: this.pending.size,
      queued: 0,
      ...this.counts,
      failedByCode: { ...this.failedByCode },
      agents: [...this.directory.agents.values()].map((a) => ({
        id: a.record.id, capacity: a.record.capacity, inFlight: a.record.inFlight, queued: a.record.queued, mine: a.mine,
      })),
      bulkBytesSent: this.bulk.sentBytes,
      bulkBytesReceived: this.bulk.receivedBytes,
    });
  }

  // ----------------------------------------------------------------- lifecycle

  /** Stop accepting calls, let the ones in flight settle, then disconnect. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.#state === 'ready') this.#state = 'draining';
      if (this.pending.size > 0) await new Promise<void>((r) => (this.idle = r));
      await Promise.all([...this.sessions.values()].map((s) => s.close()));
      await this.shutdown();
    })();
    return this.closing;
  }

  /** Reject every call in flight with POOL_CLOSED and disconnect now. Idempotent. */
  async destroy(): Promise<void> {
    this.#state = 'draining';
    for (const call of [...this.pending.values()]) call.abandon(new PoolClosedError('pool was destroyed'));
    await (this.closing ?? this.close());
  }

  private async shutdown(): Promise<void> {
    this.#state = 'closed';
    clearInterval(this.sweepTimer);
    this.bulk.close();
    for (const sub of this.subs) sub.unsubscribe();
    await closeConnection(this.nc);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
