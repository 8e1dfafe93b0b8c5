/** Shared helpers of the TypeScript tests. Tests run real Python workers. */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, type PoolOptions } from '../src/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const PYTHON = process.env.SNAKEPIT_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

export function startPool(options: Partial<PoolOptions> & { adapter?: string } = {}): Promise<Pool> {
  // Worker output is published as events only: the default ('inherit') would print every fixture's noise.
  return Pool.start({ python: PYTHON, size: 1, adapter: fixture('basic.py'), logs: 'events', ...options });
}

/** Run `fn` with a pool that is destroyed afterwards whatever happens. */
export async function withPool<T>(options: Partial<PoolOptions>, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = await startPool(options);
  try {
    return await fn(pool);
  } finally {
    await pool.destroy();
  }
}

/** Is a process with this pid alive? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves with the error a promise rejects with; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}
