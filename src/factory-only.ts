/**
 * Constructors that only the library calls. `Pool`, `RemotePool`, `Agent` and `PythonRef` are made
 * by `Pool.start`, `Pool.connect`, `Agent.start` and a session's results. TypeScript keeps callers
 * away from their constructors, but JavaScript reaches them with `new`, and the half-built object then
 * failed later with a TypeError from inside (`Cannot read properties of undefined`). Each such
 * constructor starts with `admit`, which throws a typed error naming the factory to use instead,
 * unless the factory is the caller (`make`).
 */

import type { SnakepitError } from './errors.js';

export class FactoryOnly {
  #open = 0;

  /** `misuse` makes the error for a caller who used `new` directly. */
  constructor(private readonly misuse: () => SnakepitError) {}

  /** Run `construct` (the factory's `new`) with the constructor open to it. */
  make<T>(construct: () => T): T {
    this.#open++;
    try {
      return construct();
    } finally {
      this.#open--;
    }
  }

  /** First in the constructor: throws unless the factory is the caller. */
  admit(): void {
    if (this.#open === 0) throw this.misuse();
  }
}
