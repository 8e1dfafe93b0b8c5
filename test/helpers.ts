/** Shared helpers of the TypeScript tests. Tests run real Python workers. */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, type PoolOptions } from '../src/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');
export const PYTHON = process.env.SNAKEPIT_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');

/**
 * The transport the tests' pools use: `make test-ts` runs the core scenarios once over each
 * (SNAKEPIT_TEST_TRANSPORT=socket for the second run).
 */
export const TRANSPORT: 'pipe' | 'socket' = process.env.SNAKEPIT_TEST_TRANSPORT === 'socket' ? 'socket' : 'pipe';

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/**
 * `SNAKEPIT_TEST_START_METHOD=forkserver` runs every pool of the tests in fork-server mode (a test
 * that names its own startMethod keeps it): `make test-forkserver` runs the core files that way.
 */
export const START_METHOD = process.env.SNAKEPIT_TEST_START_METHOD === 'forkserver' ? 'forkserver' : 'spawn';

export function startPool(options: Partial<PoolOptions> & { adapter?: string } = {}): Promise<Pool> {
  const how = START_METHOD === 'forkserver' ? { startMethod: 'forkserver' as const } : { transport: TRANSPORT };
  // Worker output is published as events only: the default ('inherit') would print every fixture's noise.
  return Pool.start({ python: PYTHON, size: 1, adapter: fixture('basic.py'), logs: 'events', ...how, ...sandboxedForTests(options) });
}

/** Whether the pools the tests start run sandboxed (SNAKEPIT_TEST_SANDBOX=1), spawned or forked. */
export const TEST_SANDBOX = process.env.SNAKEPIT_TEST_SANDBOX === '1';

/**
 * With SNAKEPIT_TEST_SANDBOX=1, pools the tests start run sandboxed (docs/security.md), the chaos
 * folder writable: `SNAKEPIT_TEST_SANDBOX=1 make test-chaos` runs the scenarios inside the sandbox.
 */
export function sandboxedForTests<T extends Partial<PoolOptions>>(options: T): T {
  if (!TEST_SANDBOX || options.sandbox !== undefined) return options;
  const writable = [options.env?.CHAOS_DIR].filter((d): d is string => typeof d === 'string');
  // A host process's marker (test/control.ts) must reach its workers for the survivor scans.
  const mark = process.env.SNAKEPIT_TEST_MARK;
  // The chaos fixture then reports worker ids for pids (its own are its pid namespace's): WorkerPids maps them.
  const env = { ...options.env, CHAOS_SANDBOXED: '1' };
  return { ...options, env, sandbox: { writable, ...(mark === undefined ? {} : { env: { SNAKEPIT_TEST_MARK: mark } }) } };
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
