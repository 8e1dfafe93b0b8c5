/**
 * The serving layer in front of a pool: host-side result cache, tenant quotas and fair selection,
 * dynamic batching and metering. `Pool.execute` goes through it only when one of these is in use for
 * the call, so plain calls pay one map lookup.
 *
 * Order for one call: cache (a hit ends here) -> tenant admission (quotas; fair queue while the pool
 * is full) -> batch assembly (batched tools) -> the pool's own queue and scheduler.
 */

import type { AuditLog } from '../audit/audit-log.js';
import { InvalidOptionsError, QuotaExceededError, type SnakepitError } from '../errors.js';
import type { ExecuteOptions } from '../call-options.js';
import type { ToolInfo } from '../pool/tools.js';
import { ToolBatcher, type BatchStats } from './batcher.js';
import { ResultCache, type CacheStats } from './cache.js';
import { Meter } from './meter.js';
import type { ResolvedServingOptions } from './options.js';
import { TenantScheduler, type Capacity, type TenantStats } from './tenants.js';

/** What the serving layer needs from the pool under it. */
export interface ServingBackend {
  execute(tool: string, args: Record<string, unknown> | undefined, options?: ExecuteOptions): Promise<unknown>;
  tools(): readonly ToolInfo[];
  /** Whether a call submitted now would start at once (a worker has a free slot, nothing queued). */
  hasFreeSlot(): boolean;
  /** Registers the function called whenever a slot of the pool may have freed. */
  onSlotFree(listener: () => void): void;
  /** The pool's audit log, when it has one: calls this layer settles itself are recorded there. */
  audit(): AuditLog | undefined;
}

export interface ServingStats {
  readonly cache: CacheStats;
  readonly batches: Readonly<Record<string, BatchStats>>;
  readonly tenants: Readonly<Record<string, TenantStats>>;
}

/** The serving options of one call (`ExecuteOptions.tenant`). */
interface ServingCallOptions extends ExecuteOptions {
  tenant?: string;
}

const DEFAULT_TENANT = 'default';

export class ServingFront implements Capacity {
  readonly cache = new ResultCache();
  private readonly batchers = new Map<string, ToolBatcher>();
  private readonly tenants: TenantScheduler | null;
  private readonly meter: Meter;
  /** Calls (or batches) this layer has in the pool. */
  outstanding = 0;
  /** Tools for which a call takes the long path. */
  private readonly served = new Set<string>();

  constructor(
    private readonly backend: ServingBackend,
    private readonly options: ResolvedServingOptions,
    private readonly poolTimeout: number,
  ) {
    this.tenants = options.tenants === null ? null : new TenantScheduler(options.tenants, options.defaultQuota, this);
    this.meter = new Meter(options.metering);
    backend.onSlotFree(() => this.slotFreed());
  }

  /** Reads the catalogue: which tools are cached and batched. Call again after the catalogue changed. */
  configure(): void {
    this.served.clear();
    for (const tool of this.backend.tools()) {
      const host = this.options.cache.get(tool.name);
      const limits = host === false ? null : (host ?? tool.cache ?? null);
      if (this.cache.has(tool.name) !== (limits !== null) || limits !== null) this.cache.configure(tool.name, limits);
      if (limits !== null) this.served.add(tool.name);
      if (tool.batch !== undefined && this.options.batching) {
        this.batchers.set(
          tool.name,
          new ToolBatcher(
            tool.name,
            tool.batch.maxSize,
            tool.batch.maxWaitMs,
            this,
            (name, args, timeout) => this.backend.execute(name, args, { timeout }),
            () => this.slotFreed(),
          ),
        );
        this.served.add(tool.name);
      } else this.batchers.delete(tool.name);
    }
    for (const name of this.options.cache.keys()) {
      if (!this.served.has(name) && this.options.cache.get(name) !== false && !this.backend.tools().some((t) => t.name === name)) {
        process.emitWarning(`options.cache names ${name}, which is not a tool of the adapter`, 'SnakepitWarning');
      }
    }
  }

  /** Whether a call of `tool` with these options must go through this layer. */
  takes(tool: string, options: ServingCallOptions | undefined): boolean {
    return this.tenants !== null || this.served.has(tool) || options?.tenant !== undefined || this.meter.active;
  }

  // Capacity: the pool's own view, so calls that bypass this layer (sessions, streams) count too.
  free(): boolean {
    return this.backend.hasFreeSlot();
  }
  take(): void {
    this.outstanding++;
  }
  give(): void {
    this.outstanding--;
  }

  private slotFreed(): void {
    for (const b of this.batchers.values()) b.slotFreed();
    this.tenants?.pump();
  }

  execute(tool: string, args: Record<string, unknown> | undefined, options?: ServingCallOptions): Promise<unknown> {
    const tenant = options?.tenant ?? DEFAULT_TENANT;
    if (typeof tenant !== 'string' || tenant.length === 0) {
      return Promise.reject(new InvalidOptionsError('call option tenant must be a non-empty string'));
    }
    if (!this.meter.active) return this.route(tool, args, options, tenant, undefined);
    const started = performance.now();
    const info = { queuedUntil: started, batchSize: 1, cached: true };
    const promise = this.route(tool, args, options, tenant, info);
    promise.then(
      () => this.meter.record(tenant, tool, started, info.cached ? started : info.queuedUntil, info.batchSize, info.cached, undefined),
      (err: unknown) => this.meter.record(tenant, tool, started, info.cached ? started : info.queuedUntil, info.batchSize, false, err),
    );
    return promise;
  }

  private route(
    tool: string,
    args: Record<string, unknown> | undefined,
    options: ServingCallOptions | undefined,
    tenant: string,
    info: MeterInfo | undefined,
  ): Promise<unknown> {
    if (!this.cache.has(tool)) return this.admit(tool, args, options, tenant, info);
    const audit = this.backend.audit();
    if (audit === undefined) return this.cache.run(tool, args, () => this.admit(tool, args, options, tenant, info));
    // Audited: a call answered from the cache (or sharing a running identical call) is recorded here.
    let ran = false;
    const submittedAt = performance.now();
    const promise = this.cache.run(tool, args, () => {
      ran = true;
      return this.admit(tool, args, options, tenant, info);
    });
    if (!ran) {
      const call = { tool, args: args ?? {}, submittedAt, dispatchedAt: 0, principal: principalOf(options), cached: true };
      promise.then(
        () => audit.settled(call, undefined),
        (err: unknown) => audit.settled(call, err as SnakepitError),
      );
    }
    return promise;
  }

  /** A quota refused the call: recorded in the audit log; returns the error to reject with. */
  private refusedError(tool: string, args: Record<string, unknown> | undefined, options: ServingCallOptions | undefined, err: unknown): unknown {
    if (err instanceof QuotaExceededError) this.backend.audit()?.refused(tool, args ?? {}, principalOf(options), undefined, err);
    return err;
  }

  private admit(
    tool: string,
    args: Record<string, unknown> | undefined,
    options: ServingCallOptions | undefined,
    tenant: string,
    info: MeterInfo | undefined,
  ): Promise<unknown> {
    if (info !== undefined) info.cached = false;
    const timeoutMs = options?.timeout ?? this.poolTimeout;
    const batcher = this.batchers.get(tool);
    if (batcher !== undefined) {
      if (this.tenants !== null) {
        try {
          this.tenants.checkRate(tenant, tool);
        } catch (err) {
          return Promise.reject(this.refusedError(tool, args, options, err));
        }
      }
      const held = batcher.add(args, timeoutMs, options?.signal);
      if (info !== undefined) void held.promise.then(record, record);
      const audit = this.backend.audit();
      if (audit !== undefined) {
        const principal = principalOf(options);
        const settled = (err: unknown): void => {
          const entry = { tool, args: held.args ?? {}, submittedAt: held.submittedAt, dispatchedAt: held.dispatchedAt, principal, batchSize: held.batchSize };
          audit.settled(entry, err as SnakepitError | undefined);
        };
        held.promise.then(() => settled(undefined), settled);
      }
      return held.promise;
      function record(): void {
        info!.queuedUntil = held.dispatchedAt || performance.now();
        info!.batchSize = held.batchSize;
      }
    }
    const run = (remainingMs: number): Promise<unknown> => {
      if (info !== undefined) info.queuedUntil = performance.now();
      const opts: ExecuteOptions = { ...options, timeout: remainingMs };
      delete (opts as ServingCallOptions).tenant;
      const principal = principalOf(options);
      if (principal !== undefined) opts.principal = principal;
      return this.backend.execute(tool, args, opts);
    };
    if (this.tenants !== null) {
      try {
        return this.tenants.submit(tenant, tool, timeoutMs, options?.signal, run);
      } catch (err) {
        return Promise.reject(this.refusedError(tool, args, options, err));
      }
    }
    this.take();
    const promise = run(timeoutMs);
    const done = (): void => {
      this.give();
      this.slotFreed();
    };
    promise.then(done, done);
    return promise;
  }

  /**
   * Streams and session calls skip the cache, the fair queue and batching: only the tenant's rate
   * quota applies to them, checked here (QUOTA_EXCEEDED when it is spent).
   */
  admitRateOnly(tool: string, tenant: string | undefined): void {
    if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
      throw new InvalidOptionsError('call option tenant must be a non-empty string');
    }
    try {
      this.tenants?.checkRate(tenant ?? DEFAULT_TENANT, tool);
    } catch (err) {
      throw this.refusedError(tool, undefined, { ...(tenant !== undefined ? { tenant } : {}) }, err);
    }
  }

  stats(): ServingStats {
    const batches: Record<string, BatchStats> = {};
    for (const [name, b] of this.batchers) batches[name] = b.stats();
    return Object.freeze({ cache: this.cache.stats(), batches: Object.freeze(batches), tenants: this.tenants?.stats() ?? Object.freeze({}) });
  }

  close(): Promise<void> {
    return this.meter.close();
  }
}

interface MeterInfo {
  queuedUntil: number;
  batchSize: number;
  cached: boolean;
}

/** Who the audit log names: the `principal` call option, else the tenant the caller gave. */
function principalOf(options: ServingCallOptions | undefined): string | undefined {
  return options?.principal ?? options?.tenant;
}
