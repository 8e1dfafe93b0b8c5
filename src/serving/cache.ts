/**
 * The result cache of pure tools: answered on the host without a round trip. Per tool: at most
 * `maxEntries` entries, least recently used evicted first, each living `ttlMs` (0: until evicted).
 * Concurrent identical misses run once (single flight). Errors are never cached.
 */

import { InvalidArgumentsError } from '../errors.js';
import { cacheKey } from './cache-key.js';

export interface CacheLimits {
  readonly ttlMs: number;
  readonly maxEntries: number;
}

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Calls whose arguments the cache could not key, run without it. */
  readonly uncacheable: number;
  readonly evictions: number;
  readonly entries: number;
}

interface Entry {
  readonly value: unknown;
  readonly expires: number;
}

class ToolCache {
  readonly entries = new Map<string, Entry>();
  readonly inflight = new Map<string, Promise<unknown>>();
  constructor(readonly limits: CacheLimits) {}
}

/** Deep-freezes plain objects and arrays, so one caller cannot change what the next one receives. */
function freeze(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    const proto: unknown = Object.getPrototypeOf(value);
    if (Array.isArray(value) || proto === Object.prototype || proto === null) {
      Object.freeze(value);
      for (const v of Object.values(value as Record<string, unknown>)) freeze(v);
    }
  }
  return value;
}

export class ResultCache {
  private readonly tools = new Map<string, ToolCache>();
  private hits = 0;
  private misses = 0;
  private uncacheable = 0;
  private evictions = 0;

  /** Sets (or with `null`, removes) the cache of `tool`. Existing entries of the tool are dropped. */
  configure(tool: string, limits: CacheLimits | null): void {
    if (limits === null) this.tools.delete(tool);
    else this.tools.set(tool, new ToolCache(limits));
  }

  has(tool: string): boolean {
    return this.tools.has(tool);
  }

  /** The cached result of `tool(args)`, or the result of `run()`, shared by concurrent identical misses. */
  run(tool: string, args: Record<string, unknown> | undefined, run: () => Promise<unknown>): Promise<unknown> {
    const cache = this.tools.get(tool);
    const key = cache === undefined ? undefined : cacheKey(args);
    if (cache === undefined || key === undefined) {
      this.uncacheable++;
      return run();
    }
    const entry = cache.entries.get(key);
    if (entry !== undefined) {
      if (entry.expires === 0 || entry.expires > performance.now()) {
        this.hits++;
        cache.entries.delete(key); // most recently used goes last
        cache.entries.set(key, entry);
        return Promise.resolve(entry.value);
      }
      cache.entries.delete(key);
    }
    this.misses++;
    const pending = cache.inflight.get(key);
    if (pending !== undefined) return pending;
    const promise = run().then(
      (value) => {
        cache.inflight.delete(key);
        if (this.tools.get(tool) === cache) this.store(cache, key, freeze(value));
        return value;
      },
      (err: unknown) => {
        cache.inflight.delete(key);
        throw err;
      },
    );
    cache.inflight.set(key, promise);
    return promise;
  }

  private store(cache: ToolCache, key: string, value: unknown): void {
    const { ttlMs, maxEntries } = cache.limits;
    cache.entries.set(key, { value, expires: ttlMs > 0 ? performance.now() + ttlMs : 0 });
    while (cache.entries.size > maxEntries) {
      cache.entries.delete(cache.entries.keys().next().value as string);
      this.evictions++;
    }
  }

  /**
   * Drops cached results: of every tool, of one tool, or of one call of it. Returns how many entries
   * were dropped. Calls already running are not affected.
   */
  invalidate(tool?: string, args?: Record<string, unknown>): number {
    if (tool === undefined) {
      let n = 0;
      for (const cache of this.tools.values()) {
        n += cache.entries.size;
        cache.entries.clear();
      }
      return n;
    }
    if (typeof tool !== 'string') throw new InvalidArgumentsError('cache.invalidate: tool must be a string');
    const cache = this.tools.get(tool);
    if (cache === undefined) return 0;
    if (args === undefined) {
      const n = cache.entries.size;
      cache.entries.clear();
      return n;
    }
    const key = cacheKey(args);
    return key !== undefined && cache.entries.delete(key) ? 1 : 0;
  }

  stats(): CacheStats {
    let entries = 0;
    for (const cache of this.tools.values()) entries += cache.entries.size;
    return Object.freeze({ hits: this.hits, misses: this.misses, uncacheable: this.uncacheable, evictions: this.evictions, entries });
  }
}
