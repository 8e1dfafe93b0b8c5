/** Starting a one-worker pool for a command: the catalogue with types, or a call. */

import { Pool } from '../pool/pool.js';
import type { PoolOptions } from '../options.js';
import { UsageError } from './command.js';

export interface StartFor {
  readonly adapter: string | undefined;
  readonly python?: string | undefined;
  readonly cwd: string;
  readonly timeout?: number | undefined;
}

export async function startPool(spec: StartFor, extra: Partial<PoolOptions> = {}): Promise<Pool> {
  if (spec.adapter === undefined) throw new UsageError('missing the adapter (a file such as tools.py, or package.module)');
  return Pool.start({
    adapter: spec.adapter,
    size: 1,
    cwd: spec.cwd,
    stateDir: false,
    heartbeatInterval: 0,
    ...(spec.python !== undefined ? { python: spec.python } : {}),
    ...(spec.timeout !== undefined ? { timeout: spec.timeout } : {}),
    ...extra,
  });
}
