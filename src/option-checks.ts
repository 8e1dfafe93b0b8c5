/** What option checks share: the typed error they throw, and how they show a wrong value. */

import { InvalidOptionsError } from './errors.js';

export function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return typeof value;
}
