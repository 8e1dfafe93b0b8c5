/**
 * The serving options of a pool (tenants, metering, host-side caching, batching): their types and
 * validation, called from resolvePoolOptions so that every option is still checked in one pass.
 */

import { InvalidOptionsError } from '../errors.js';
import type { MeterRecord } from './meter.js';

export interface TenantQuota {
  /** Calls of the tenant running at once; more wait in its queue. Default: no limit. */
  concurrency?: number;
  /** Calls per second admitted (token bucket); past it QUOTA_EXCEEDED with a retry-after. Default: no limit. */
  rate?: number;
  /** Tokens the bucket holds: the burst allowed above `rate`. Default: `rate`, at least 1. */
  burst?: number;
  /** Calls of the tenant waiting for a slot; past it QUOTA_EXCEEDED. Default: no limit. */
  maxQueued?: number;
  /** Share of the pool while tenants compete (weighted fair selection). Default 1. */
  weight?: number;
}

export interface ResolvedTenantQuota {
  /** 0: no limit. */
  readonly concurrency: number;
  /** 0: no limit. */
  readonly rate: number;
  readonly burst: number;
  /** Infinity: no limit. */
  readonly maxQueued: number;
  readonly weight: number;
}

export interface ToolCacheOptions {
  /** Milliseconds an entry lives (0: until evicted). Default 60000. */
  ttl?: number;
  /** Entries kept; the least recently used goes first. Default 1000. */
  maxEntries?: number;
}

export interface ServingOptions {
  /**
   * Per-tenant quotas and weights, by tenant name (the `tenant` call option; calls without one belong
   * to `default`). The key `*` gives the quota of tenants not listed. Setting it turns on fair
   * scheduling between tenants. See docs/serving.md.
   */
  tenants?: Record<string, TenantQuota>;
  /** One metering record per call: a JSON Lines file path, or a function. */
  metering?: string | ((record: MeterRecord) => void);
  /**
   * Host-side result caching per tool: limits for a tool the host declares pure, or `false` to turn
   * off a cache the tool itself declared (`@tool(cache=Cache(...))`).
   */
  cache?: Record<string, ToolCacheOptions | false>;
  /** Batch calls to tools declared `@tool(batch=Batch(...))`. Default true. */
  batching?: boolean;
}

export interface ResolvedServingOptions {
  readonly tenants: ReadonlyMap<string, ResolvedTenantQuota> | null;
  readonly defaultQuota: ResolvedTenantQuota;
  readonly metering: string | ((record: MeterRecord) => void) | null;
  readonly cache: ReadonlyMap<string, { readonly ttlMs: number; readonly maxEntries: number } | false>;
  readonly batching: boolean;
}

const UNLIMITED: ResolvedTenantQuota = Object.freeze({ concurrency: 0, rate: 0, burst: 1, maxQueued: Infinity, weight: 1 });
const MAX_TIMER = 2 ** 31 - 1;

function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

function number(name: string, v: unknown, opts: { integer?: boolean; min: number; max?: number }): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && v >= opts.min && (opts.max === undefined || v <= opts.max) && (!opts.integer || Number.isInteger(v));
  if (!ok) {
    const range = opts.max === undefined ? `>= ${opts.min}` : `from ${opts.min} to ${opts.max}`;
    fail(`options.${name} must be ${opts.integer ? 'an integer' : 'a number'} ${range}, got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  }
  return v as number;
}

function object(name: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`options.${name} must be an object`);
  return v as Record<string, unknown>;
}

function quota(name: string, v: unknown): ResolvedTenantQuota {
  const o = object(name, v);
  const known = ['concurrency', 'rate', 'burst', 'maxQueued', 'weight'];
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(`options.${name}.${k} is not known (known: ${known.join(', ')})`);
  const concurrency = o.concurrency === undefined ? 0 : number(`${name}.concurrency`, o.concurrency, { integer: true, min: 1 });
  const rate = o.rate === undefined ? 0 : number(`${name}.rate`, o.rate, { min: 0.001, max: 1e9 });
  const burst = o.burst === undefined ? Math.max(1, rate) : number(`${name}.burst`, o.burst, { min: 1, max: 1e9 });
  const maxQueued = o.maxQueued === undefined ? Infinity : number(`${name}.maxQueued`, o.maxQueued, { integer: true, min: 0 });
  const weight = o.weight === undefined ? 1 : number(`${name}.weight`, o.weight, { min: 0.001, max: 1000 });
  if (o.burst !== undefined && rate === 0) fail(`options.${name}.burst needs options.${name}.rate`);
  return Object.freeze({ concurrency, rate, burst, maxQueued, weight });
}

export function resolveServingOptions(o: ServingOptions): ResolvedServingOptions {
  let tenants: Map<string, ResolvedTenantQuota> | null = null;
  let defaultQuota = UNLIMITED;
  if (o.tenants !== undefined) {
    tenants = new Map();
    for (const [name, q] of Object.entries(object('tenants', o.tenants))) {
      const resolved = quota(`tenants[${JSON.stringify(name)}]`, q);
      if (name === '*') defaultQuota = resolved;
      else tenants.set(name, resolved);
    }
  }
  let metering: ResolvedServingOptions['metering'] = null;
  if (o.metering !== undefined) {
    if (typeof o.metering === 'string' ? o.metering.length === 0 : typeof o.metering !== 'function') {
      fail('options.metering must be a file path or a function');
    }
    metering = o.metering;
  }
  const cache = new Map<string, { ttlMs: number; maxEntries: number } | false>();
  if (o.cache !== undefined) {
    for (const [tool, c] of Object.entries(object('cache', o.cache))) {
      if (c === false) {
        cache.set(tool, false);
        continue;
      }
      const co = object(`cache[${JSON.stringify(tool)}]`, c);
      for (const k of Object.keys(co)) if (k !== 'ttl' && k !== 'maxEntries') fail(`options.cache[${JSON.stringify(tool)}].${k} is not known (known: ttl, maxEntries)`);
      cache.set(tool, {
        ttlMs: co.ttl === undefined ? 60_000 : number(`cache[${JSON.stringify(tool)}].ttl`, co.ttl, { integer: true, min: 0, max: MAX_TIMER }),
        maxEntries: co.maxEntries === undefined ? 1000 : number(`cache[${JSON.stringify(tool)}].maxEntries`, co.maxEntries, { integer: true, min: 1 }),
      });
    }
  }
  if (o.batching !== undefined && typeof o.batching !== 'boolean') fail('options.batching must be a boolean');
  return Object.freeze({ tenants, defaultQuota, metering, cache, batching: o.batching ?? true });
}
