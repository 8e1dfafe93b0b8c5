/** A pool's managed environment: built (or found) before the pool starts, then its interpreter is used. */

import type { ResolvedPoolOptions } from '../options.js';
import { ensureEnvironment } from './managed.js';

export async function withEnvironment(options: ResolvedPoolOptions): Promise<ResolvedPoolOptions> {
  if (options.environment === undefined) return options;
  const env = await ensureEnvironment(options.environment);
  return Object.freeze({ ...options, python: env.python, pythonReason: `the managed environment ${env.dir}` });
}
