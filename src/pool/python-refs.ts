/**
 * Handles of Python objects that stay on their worker. A tool returns `ctx.ref(obj)`, which travels as
 * the map `{"$ref": id, "session": sessionId, "type": "module.Class"}`; results of session calls are
 * searched for such maps and each becomes a `PythonRef`. A handle's only enumerable properties are
 * those three, so passing it back as an argument sends exactly that map, which the worker turns into
 * the object again (within its own session only).
 *
 * The object is released by `release()`, when its session closes or is lost, and when the handle is
 * garbage-collected (FinalizationRegistry; releases are batched into one call).
 */

import { InvalidRefError, type SnakepitError } from '../errors.js';
import { checkPythonCallOptions, type CallOptions, type PythonCallOptions } from '../call-options.js';
import { BUILTIN_TOOLS, type RefMarker } from '../protocol/messages.js';
import { FactoryOnly } from '../factory-only.js';

/** What a handle needs from its session (SessionCore). */
export interface RefOwner {
  readonly id: string;
  readonly generation: number;
  readonly timeout: number;
  /** Why handles of `generation` cannot be used now, or undefined when they can. */
  refProblem(generation: number): SnakepitError | undefined;
  run(tool: string, args: Record<string, unknown>, options: CallOptions | undefined): Promise<unknown>;
  /** The handle is gone (released or collected): free the object on the worker. */
  dropRef(id: number, generation: number, explicit: boolean): Promise<void>;
}

const MAX_DEPTH = 64;
const factory = new FactoryOnly(() => new InvalidRefError('a PythonRef comes from the result of a session call; it cannot be made with `new PythonRef()`'));

function isRefMarker(value: unknown): value is RefMarker {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.$ref === 'number' && typeof v.session === 'string' && typeof v.type === 'string' && Object.keys(v).length === 3;
}

/** A Python object kept on its session's worker. */
export class PythonRef {
  /** The reference's id within its session (wire field). */
  readonly $ref: number;
  /** The id of the session that holds the object (wire field). */
  readonly session: string;
  /** The Python type of the object, `module.Class` (wire field). */
  readonly type: string;
  readonly #owner: RefOwner;
  readonly #generation: number;
  #released = false;

  /** Made by the library only, for the references in a session call's results. */
  constructor(marker: RefMarker, owner: RefOwner) {
    factory.admit();
    this.$ref = marker.$ref;
    this.session = marker.session;
    this.type = marker.type;
    this.#owner = owner;
    this.#generation = owner.generation;
  }

  get id(): number {
    return this.$ref;
  }

  /** The wire form: a reference travels as its marker map, in both codecs. */
  toJSON(): RefMarker {
    return { $ref: this.$ref, session: this.session, type: this.type };
  }

  /** True once released, or when its session is closed or lost. */
  get released(): boolean {
    return this.#released || this.#owner.refProblem(this.#generation) !== undefined;
  }

  /**
   * Call `method` on the object with positional `args` (and `options.kwargs`). A result with no wire
   * encoding comes back as another reference in the same session.
   */
  call<T = unknown>(method: string, args: unknown[] = [], options?: PythonCallOptions): Promise<T> {
    try {
      if (typeof method !== 'string') throw new InvalidRefError(`method name must be a string, got ${typeof method}`);
      if (!Array.isArray(args)) throw new InvalidRefError(`arguments of ${method} must be an array of positional arguments`);
      const { kwargs, call } = checkPythonCallOptions(options, this.#owner.timeout);
      this.check();
      return this.#owner.run(BUILTIN_TOOLS.REF_CALL, { ref: this, method, args, kwargs, mode: 'auto' }, call) as Promise<T>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Read attribute `attr` of the object (a reference again when it has no wire encoding). */
  get<T = unknown>(attr: string, options?: CallOptions): Promise<T> {
    try {
      if (typeof attr !== 'string') throw new InvalidRefError(`attribute name must be a string, got ${typeof attr}`);
      const { call } = checkPythonCallOptions(options, this.#owner.timeout);
      this.check();
      return this.#owner.run(BUILTIN_TOOLS.REF_GET, { ref: this, attr, mode: 'auto' }, call) as Promise<T>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Free the object on the worker. Idempotent; a no-op once the session is closed or lost. */
  release(): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.#released = true;
    refRegistry.unregister(this);
    return this.#owner.dropRef(this.$ref, this.#generation, true);
  }

  private check(): void {
    if (this.#released) {
      throw new InvalidRefError(`reference ${this.$ref} (${this.type}) of session ${JSON.stringify(this.session)} was released`);
    }
    const problem = this.#owner.refProblem(this.#generation);
    if (problem !== undefined) throw problem;
  }

  toString(): string {
    return `PythonRef(${this.type} #${this.$ref} in session ${this.session})`;
  }
}

interface Held {
  owner: RefOwner;
  id: number;
  generation: number;
}

const refRegistry = new FinalizationRegistry<Held>((held) => {
  held.owner.dropRef(held.id, held.generation, false).catch(() => {});
});

/** Make a handle for `marker` owned by `owner`, released when collected. */
function makeRef(marker: RefMarker, owner: RefOwner): PythonRef {
  const ref = factory.make(() => new PythonRef(marker, owner));
  refRegistry.register(ref, { owner, id: marker.$ref, generation: owner.generation }, ref);
  return ref;
}

/**
 * `value` with every reference marker replaced by a handle. Containers are copied only where a
 * marker was found; binary data is never walked.
 */
export function decodeRefs(value: unknown, owner: RefOwner, onRef: (ref: PythonRef) => void, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i] as unknown;
      const next = decodeRefs(item, owner, onRef, depth + 1);
      if (next !== item) {
        out ??= value.slice();
        out[i] = next;
      }
    }
    return out ?? value;
  }
  if (value instanceof PythonRef || value instanceof Date || value instanceof Map || value instanceof Set) return value;
  if (isRefMarker(value)) {
    const ref = makeRef(value, owner);
    onRef(ref);
    return ref;
  }
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    const next = decodeRefs(item, owner, onRef, depth + 1);
    if (next !== item) {
      out ??= { ...(value as Record<string, unknown>) };
      out[key] = next;
    }
  }
  return out ?? value;
}
