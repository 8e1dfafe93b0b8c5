/**
 * When a healthy worker should be replaced by a fresh one: after `maxRequests` calls, after its `ttl`
 * (spread by up to 10% so workers started together do not all recycle together), when its Python
 * process's resident set exceeds `maxRss`, after a MemoryError, or on `pool.recycle(id)`.
 *
 * Recycling never lowers capacity to zero: the replacement is started first; the old worker stops
 * taking calls at once only if another worker serves, otherwise when the replacement is ready. It then
 * finishes the calls it has and is shut down gracefully.
 */

import type { ResolvedPoolOptions } from '../options.js';
import type { RecycleReason } from '../events.js';
import { readRss, readSmapsRollup } from '../worker/procfs.js';
import type { WorkerHandle } from '../worker/worker.js';

/** The moment (performance.now()) a worker ready at `readyAt` reaches its ttl, or Infinity. */
export function ttlDeadline(readyAt: number, ttl: number, random: () => number = Math.random): number {
  if (ttl <= 0) return Infinity;
  return readyAt + ttl * (1 - 0.1 * random());
}

/** The reason a ready worker is due for recycling at this tick, if any. */
export function recycleDue(
  worker: WorkerHandle,
  options: ResolvedPoolOptions,
  ttlAt: number,
  now: number,
): RecycleReason | undefined {
  if (options.maxRequests > 0 && worker.completed >= options.maxRequests) return 'maxRequests';
  if (now >= ttlAt) return 'ttl';
  if (options.maxRss > 0 && worker.pid !== undefined) {
    // A forked worker shares the zygote's pages: only its own (unshared) memory counts.
    const rss = worker.forked ? readSmapsRollup(worker.pid)?.uss : readRss(worker.pid);
    if (rss !== undefined && rss > options.maxRss) return 'rss';
  }
  return undefined;
}

/** A Python exception that means the worker's heap is exhausted: the worker is recycled after it. */
export function isMemoryError(type: string | null | undefined): boolean {
  return type === 'MemoryError';
}
