/**
 * The public face of a pool of Python workers. A thin wrapper: the work happens in PoolCore.
 *
 * ```ts
 * const pool = await Pool.start({ adapter: './tools.py', size: 4 });
 * const sum = await pool.execute('add', { a: 1, b: 2 });
 * await pool.close();
 * ```
 */

import { EventEmitter } from 'node:events';
import type { PoolEventMap, PoolState } from '../events.js';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from '../options.js';
import { type ExecuteOptions, type HostToolOptions, type SessionOptions, type StreamOptions } from '../call-options.js';
import { PoolCore } from './core.js';
import { withEnvironment } from '../python-env/pool-environment.js';
import type { HostToolFn, HostToolInfo } from './host-tools.js';
import { PythonCalls } from './python-calls.js';
import { Reloader } from './reload.js';
import type { Session } from './session.js';
import { checkEventsOptions, PoolEventIterator, type EventsOptions } from './event-iterator.js';
import type { PoolStats } from './stats.js';
import type { ToolStream } from './stream.js';
import type { ToolInfo } from './tools.js';
import type { RemotePool } from '../cluster/remote-pool.js';
import type { ConnectOptions } from '../cluster/types.js';
import { ServingFront } from '../serving/front.js';
import type { ResultCache } from '../serving/cache.js';
import { InvalidOptionsError, PoolClosedError } from '../errors.js';
import { FactoryOnly } from '../factory-only.js';
import { codeCachePoolClosed, codeCachePoolStarted } from '../boot/warm.js';

const cores = new WeakMap<Pool, PoolCore>();
const factory = new FactoryOnly(
  () => new InvalidOptionsError('a Pool is made by `await Pool.start(options)` (or `Pool.connect(options)` for a cluster), not by `new Pool()`'),
);

/** The implementation behind a pool, for the library's own tools (the dashboard); not exported. */
export function poolCore(pool: Pool): PoolCore | undefined {
  return cores.get(pool);
}

export class Pool extends EventEmitter<PoolEventMap> {
  readonly #core: PoolCore;
  readonly #python: PythonCalls;
  readonly #serving: ServingFront;
  readonly #reloader: Reloader;

  private constructor(options: ResolvedPoolOptions) {
    factory.admit();
    super();
    const core = new PoolCore(options, this);
    this.#core = core;
    cores.set(this, core);
    this.#python = new PythonCalls(core, undefined);
    this.#serving = new ServingFront(
      {
        execute: (tool, args, opts) => core.execute(tool, args, opts),
        tools: () => core.tools(),
        hasFreeSlot: () => core.hasFreeSlot(),
        onSlotFree: (listener) => (core.slotListener = listener),
        audit: () => core.audit,
      },
      options.serving,
      options.timeout,
    );
    this.#reloader = new Reloader(core);
    core.sessionGate = (tool, tenant) => this.#rateOnly(tool, tenant);
  }

  /** A stream's or a session call's admission by the serving layer: the tenant's rate quota only. */
  #rateOnly(tool: string, tenant: string | undefined): void {
    if (tenant !== undefined || this.#core.options.serving.tenants !== null) this.#serving.admitRateOnly(tool, tenant);
  }

  /**
   * Start `size` workers (at most `startupConcurrency` at once) and resolve when every one is ready.
   * Rejects with WORKER_START_FAILED (carrying the Python traceback and stderr tail) if any fails,
   * after stopping the others; with INVALID_OPTIONS for bad options.
   */
  static async start(options: PoolOptions): Promise<Pool> {
    const resolved = await withEnvironment(resolvePoolOptions(options));
    const pool = factory.make(() => new Pool(resolved));
    await pool.#core.start();
    if (pool.options.watch.length > 0) {
      pool.#reloader.watch(pool.options.watch, 200, (err) =>
        process.emitWarning(`snakepit: reload failed: ${(err as Error)?.message ?? String(err)}`, { code: 'SNAKEPIT_RELOAD_FAILED' }),
      );
    }
    pool.#serving.configure();
    codeCachePoolStarted();
    return pool;
  }

  /**
   * A remote pool served by agents on NATS (docs/cluster.md): the same surface as a local pool.
   * Needs the optional `nats` package (CLUSTER_UNAVAILABLE without it).
   */
  static async connect(options: ConnectOptions): Promise<RemotePool> {
    const { RemotePool } = await import('../cluster/remote-pool.js');
    return RemotePool.connect(options);
  }

  /** Run `tool` with keyword arguments `args`; resolves with what the Python function returned. */
  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T> {
    const serving = this.#serving;
    if (serving.takes(tool, options)) return serving.execute(tool, args, options) as Promise<T>;
    return this.#core.execute(tool, args, options) as Promise<T>;
  }

  /** Consume a generator tool chunk by chunk: `for await (const chunk of pool.stream(...))`. */
  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: StreamOptions): ToolStream<T> {
    this.#rateOnly(tool, options?.tenant);
    // The audit log names the tenant when the caller gave no principal.
    if (options?.tenant !== undefined && options.principal === undefined) options = { ...options, principal: options.tenant };
    return this.#core.stream<T>(tool, args, options);
  }

  /**
   * The host-side result cache of pure tools (`@tool(cache=Cache(...))`, pool option `cache`):
   * `pool.cache.invalidate(tool?, args?)`, `pool.cache.stats()`. See docs/serving.md.
   */
  get cache(): Pick<ResultCache, 'invalidate' | 'stats'> {
    return this.#serving.cache;
  }

  /**
   * A session: every call runs on one worker, which keeps `ctx.session.state` and the session's
   * references. With an `id` of an open session, returns that session. Throws TOO_MANY_SESSIONS past
   * `maxSessions`. See docs/sessions.md.
   */
  session(id?: string, options?: SessionOptions): Session {
    return this.#core.sessions.open(id, options);
  }

  /** Allowlisted calls of Python functions and classes by dotted name (deny by default: `allow`). */
  get python(): PythonCalls {
    return this.#python;
  }

  /**
   * Register a host tool that Python calls with `ctx.call_host(name, **kwargs)`. Returns a function
   * that unregisters it.
   */
  registerTool(name: string, fn: HostToolFn, options?: HostToolOptions): () => void {
    return this.#core.hostTools.register(name, fn, options);
  }

  unregisterTool(name: string): boolean {
    return this.#core.hostTools.unregister(name);
  }

  /** The pool's host tools. */
  hostTools(): readonly HostToolInfo[] {
    return this.#core.hostTools.list();
  }

  /** The tool catalogue read from the adapter's signatures and docstrings. */
  tools(): readonly ToolInfo[] {
    return this.#core.tools();
  }

  /**
   * The pool's metrics in the Prometheus text exposition format: serve it on a `/metrics` endpoint.
   * Metric names are listed in docs/observability.md.
   */
  metricsText(): string {
    return this.#core.telemetry.metrics.text();
  }

  /** An immutable snapshot of the pool's state and counters. */
  stats(): PoolStats {
    return Object.freeze({ ...this.#core.stats(), serving: this.#serving.stats() });
  }

  get state(): PoolState {
    return this.#core.state;
  }

  /** The resolved, frozen options. */
  get options(): ResolvedPoolOptions {
    return this.#core.options;
  }

  /**
   * Replace worker `workerId` (see `stats().workerList`) by a fresh process with drain: the
   * replacement starts first, the old worker finishes its calls and exits. Resolves once it has
   * exited; rejects if the replacement cannot start (the old worker then keeps serving).
   */
  recycle(workerId: number): Promise<void> {
    return this.#ending('recycles no workers') ?? this.#core.recycle(workerId);
  }

  /** A rejection for work that replaces workers, once the pool is closing or closed. */
  #ending(what: string): Promise<never> | undefined {
    const state = this.#core.state;
    if (state !== 'draining' && state !== 'closed') return undefined;
    return Promise.reject(new PoolClosedError(`pool is ${state}; it ${what}`));
  }

  /**
   * The pool's events as an async iterator with a bounded buffer (a slow reader loses the oldest
   * events and receives an `eventsDropped` event). Ends when the pool is closed.
   *
   * ```ts
   * for await (const event of pool.events({ types: ['workerExit', 'poolState'] })) console.log(event);
   * ```
   */
  events(options?: EventsOptions): PoolEventIterator {
    const { types, bufferSize } = checkEventsOptions(options);
    return new PoolEventIterator(this, types, bufferSize, this.#core.state === 'closed');
  }

  /**
   * Development reload: replace the workers one at a time (each replacement starts before its
   * predecessor drains), then read the tool catalogue again. Sessions of a replaced worker end with
   * SESSION_LOST (`recycled`). Rejects like `recycle()` when a replacement cannot start (say, the
   * adapter now has a syntax error); the remaining old workers keep serving.
   */
  reload(): Promise<void> {
    return this.#ending('reloads no workers') ?? this.#reloader.reload();
  }

  /** Stop accepting calls, let queued and running ones finish, then stop the workers. Idempotent. */
  close(): Promise<void> {
    this.#reloader.stop();
    return this.#core.close().finally(() => {
      this.#serving.close();
      codeCachePoolClosed();
    });
  }

  /** Reject every queued and running call with POOL_CLOSED and kill the workers now. Idempotent. */
  destroy(): Promise<void> {
    this.#reloader.stop();
    return this.#core.destroy().finally(() => this.#serving.close());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
