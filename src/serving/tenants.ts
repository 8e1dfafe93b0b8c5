/**
 * Tenants: per-tenant quotas (calls running at once, a token-bucket rate, calls waiting) checked at
 * admission, and weighted fair selection among the tenants' queues while the pool is full.
 *
 * A call is sent to the pool at once when the pool has a free slot and its tenant is under its
 * concurrency quota; otherwise it waits in its tenant's queue. Whenever a slot frees, the next call
 * comes from the eligible tenant with the lowest virtual time (stride scheduling: each call sent
 * advances its tenant's time by 1/weight), so a tenant flooding the pool gets its share and no more.
 */

import { QuotaExceededError } from '../errors.js';
import type { ResolvedTenantQuota } from './options.js';
import { HeldCall } from './held.js';

export interface TenantStats {
  readonly running: number;
  readonly queued: number;
  readonly admitted: number;
  readonly rejected: { readonly rate: number; readonly concurrency: number; readonly queue: number };
}

/** What the fair queue needs from below: whether the pool has a free slot right now. */
export interface Capacity {
  free(): boolean;
  /** The call holds a slot until the promise settles. */
  take(): void;
  give(): void;
}

type Run = () => Promise<unknown>;

class Tenant {
  running = 0;
  readonly queue: { call: HeldCall; run: Run }[] = [];
  tokens: number;
  refilledAt = performance.now();
  pass = 0;
  admitted = 0;
  readonly rejected = { rate: 0, concurrency: 0, queue: 0 };
  constructor(
    readonly name: string,
    readonly quota: ResolvedTenantQuota,
  ) {
    this.tokens = quota.burst;
  }

  /** Takes a rate token; returns 0, or the milliseconds until one is free. */
  takeToken(): number {
    const { rate, burst } = this.quota;
    if (rate === 0) return 0;
    const now = performance.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) * rate) / 1000);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / rate);
  }

  eligible(): boolean {
    return this.queue.length > 0 && (this.quota.concurrency === 0 || this.running < this.quota.concurrency);
  }
}

export class TenantScheduler {
  private readonly tenants = new Map<string, Tenant>();
  /** The virtual time of the last call sent: a tenant that becomes active starts there. */
  private virtualTime = 0;
  private waiting = 0;

  constructor(
    private readonly quotas: ReadonlyMap<string, ResolvedTenantQuota>,
    private readonly defaultQuota: ResolvedTenantQuota,
    private readonly capacity: Capacity,
  ) {}

  private tenant(name: string): Tenant {
    let t = this.tenants.get(name);
    if (t === undefined) {
      t = new Tenant(name, this.quotas.get(name) ?? this.defaultQuota);
      this.tenants.set(name, t);
    }
    return t;
  }

  /**
   * The rate quota alone, for calls that skip the fair queue (batched tools, streams): throws
   * QUOTA_EXCEEDED when the tenant has no token.
   */
  checkRate(tenantName: string, tool: string): void {
    const t = this.tenant(tenantName);
    const wait = t.takeToken();
    if (wait > 0) {
      t.rejected.rate++;
      throw new QuotaExceededError(`tenant ${tenantName}: rate quota of ${t.quota.rate} calls/s exceeded`, tenantName, 'rate', wait, { tool });
    }
    t.admitted++;
  }

  /** Admits a call of `tenant` (or throws QUOTA_EXCEEDED) and runs it when its turn comes. */
  submit<T>(tenantName: string, tool: string, timeoutMs: number, signal: AbortSignal | undefined, run: (timeoutMs: number) => Promise<T>): Promise<T> {
    const t = this.tenant(tenantName);
    this.checkRate(tenantName, tool);
    t.admitted--;
    const underConcurrency = t.quota.concurrency === 0 || t.running < t.quota.concurrency;
    if (underConcurrency && t.queue.length === 0 && this.capacity.free()) {
      t.admitted++;
      if (t.pass < this.virtualTime) t.pass = this.virtualTime;
      return this.start(t, () => run(timeoutMs)) as Promise<T>;
    }
    if (t.queue.length >= t.quota.maxQueued) {
      const kind = t.quota.maxQueued === 0 && !underConcurrency ? 'concurrency' : 'queue';
      t.rejected[kind]++;
      const what = kind === 'concurrency' ? `concurrency quota of ${t.quota.concurrency} calls` : `queue quota of ${t.quota.maxQueued} waiting calls`;
      throw new QuotaExceededError(`tenant ${tenantName}: ${what} exceeded`, tenantName, kind, this.retryEstimate(), { tool });
    }
    t.admitted++;
    if (t.queue.length === 0 && t.pass < this.virtualTime) t.pass = this.virtualTime;
    const call = new HeldCall(tool, undefined, timeoutMs, signal, (gone) => this.drop(t, gone));
    t.queue.push({ call, run: () => run(call.remainingMs()) });
    this.waiting++;
    return call.promise as Promise<T>;
  }

  /** A guess of when a slot frees: a caller told to retry gets something better than nothing. */
  private retryEstimate(): number {
    return 100;
  }

  private drop(t: Tenant, call: HeldCall): void {
    const i = t.queue.findIndex((e) => e.call === call);
    if (i >= 0) {
      t.queue.splice(i, 1);
      this.waiting--;
    }
  }

  private start(t: Tenant, run: Run): Promise<unknown> {
    t.running++;
    t.pass += 1 / t.quota.weight;
    this.virtualTime = Math.max(this.virtualTime, t.pass - 1 / t.quota.weight);
    this.capacity.take();
    let promise: Promise<unknown>;
    try {
      promise = run();
    } catch (err) {
      promise = Promise.reject(err);
    }
    const done = (): void => {
      t.running--;
      this.capacity.give();
      this.pump();
    };
    promise.then(done, done);
    return promise;
  }

  /** Sends waiting calls while the pool has free slots, tenant with the lowest virtual time first. */
  pump(): void {
    while (this.waiting > 0 && this.capacity.free()) {
      let best: Tenant | undefined;
      for (const t of this.tenants.values()) {
        if (t.eligible() && (best === undefined || t.pass < best.pass)) best = t;
      }
      if (best === undefined) return;
      const { call, run } = best.queue.shift()!;
      this.waiting--;
      call.dispatched = true;
      this.start(best, run).then(
        (v) => call.resolve(v),
        (e: unknown) => call.reject(e),
      );
    }
  }

  stats(): Record<string, TenantStats> {
    const out: Record<string, TenantStats> = {};
    for (const t of this.tenants.values()) {
      out[t.name] = Object.freeze({ running: t.running, queued: t.queue.length, admitted: t.admitted, rejected: Object.freeze({ ...t.rejected }) });
    }
    return Object.freeze(out);
  }
}
