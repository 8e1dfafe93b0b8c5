/** What option checks share: the typed error they throw, how they show a wrong value, and integer options. */

import { InvalidOptionsError } from './errors.js';

export function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return typeof value;
}

/** `options[name]` as an integer from `min` to `max`, `fallback` when absent; the message names `${prefix}${name}`. */
export function integer(
  options: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  prefix = 'options.',
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    fail(`${prefix}${name} must be ${range}, got ${describe(value)}`);
  }
  return value;
}
