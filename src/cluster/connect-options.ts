/** Validation of `Pool.connect` options: one place, messages naming the option, a frozen result. */

import { InvalidOptionsError } from '../errors.js';
import type { NatsConnectOptions } from './types.js';
import { checkName } from './wire.js';

export interface ResolvedConnectOptions {
  readonly nats: NatsConnectOptions;
  readonly pool: string;
  readonly timeout: number;
  readonly retries: number;
  readonly staleAfter: number | undefined;
  readonly waitForAgents: number;
  readonly streamWindow: number;
  readonly maxPayload: number;
}

const KEYS = new Set(['nats', 'pool', 'timeout', 'retries', 'staleAfter', 'waitForAgents', 'streamWindow', 'maxPayload']);

function integer(o: Record<string, unknown>, key: string, fallback: number, min: number): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new InvalidOptionsError(`options.${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function checkConnectOptions(options: unknown): ResolvedConnectOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidOptionsError('Pool.connect options must be an object');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KEYS.has(key)) throw new InvalidOptionsError(`options.${key} is not known (known: ${[...KEYS].join(', ')})`);
  }
  if (o.nats === undefined) throw new InvalidOptionsError('options.nats is required: { servers, token | user/pass | nkeySeed, tls }');
  const problem = checkName('options.pool', o.pool);
  if (problem !== undefined) throw new InvalidOptionsError(problem);
  const staleAfter = o.staleAfter === undefined ? undefined : integer(o, 'staleAfter', 0, 1);
  return Object.freeze({
    nats: o.nats as NatsConnectOptions,
    pool: o.pool as string,
    timeout: integer(o, 'timeout', 60_000, 0),
    retries: integer(o, 'retries', 2, 0),
    staleAfter,
    waitForAgents: integer(o, 'waitForAgents', 5000, 0),
    streamWindow: integer(o, 'streamWindow', 64, 1),
    maxPayload: integer(o, 'maxPayload', 256 * 1024 * 1024, 1024),
  });
}
