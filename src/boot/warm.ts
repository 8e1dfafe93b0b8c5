/**
 * The library's side of the code cache (src/boot/code-cache.ts): once a pool has run, the functions it
 * needed are compiled, and the loader can write them to the cache for the next process. The library
 * only tells it when; without the loader (the sources run directly, or the cache is turned off) these
 * do nothing.
 */

import type { CodeCacheState } from './code-cache.js';

/** Where the loader leaves its state (for the library, and for diagnostics). */
export const CODE_CACHE_KEY = Symbol.for('snakepit.codeCache');

/** After the first pool starts, the cache is written this much later if no pool has closed by then. */
const SAVE_AFTER_START_MS = 1000;

let timer: NodeJS.Timeout | undefined;

function wanting(): CodeCacheState | undefined {
  const state = (globalThis as { [CODE_CACHE_KEY]?: CodeCacheState })[CODE_CACHE_KEY];
  return state?.wantsSave === true ? state : undefined;
}

/** A pool has started: write the cache a second from now, unless a pool closes first. */
export function codeCachePoolStarted(): void {
  const state = timer === undefined ? wanting() : undefined;
  if (state !== undefined) timer = setTimeout(() => state.save(true), SAVE_AFTER_START_MS).unref();
}

/** A pool has closed: write the cache now if it is still wanted (it had started and run). */
export function codeCachePoolClosed(): void {
  if (timer === undefined) return;
  clearTimeout(timer);
  wanting()?.save(true);
}
