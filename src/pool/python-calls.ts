/**
 * `pool.python` and `session.python`: call an arbitrary Python function, or create an object, by its
 * dotted name, only when the pool's `allow` list permits that name. The name is checked here before
 * anything is sent, and again by the worker before it imports anything (python/snakepit_bridge/allow.py).
 */

import { InvalidArgumentsError, PermissionDeniedError } from '../errors.js';
import { type ResolvedPoolOptions } from '../options.js';
import { checkPythonCallOptions, type ExecuteOptions, type PythonCallOptions } from '../call-options.js';
import { BUILTIN_TOOLS } from '../protocol/messages.js';
import { checkDottedName, denialReason } from './allowlist.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { PythonRef } from './python-refs.js';
import type { CallRoute, SessionCore } from './session.js';

/** What PythonCalls needs from the pool. */
export interface PythonCallHost {
  readonly options: ResolvedPoolOptions;
  execute(tool: string, args: Record<string, unknown> | undefined, options: ExecuteOptions | undefined, route: CallRoute): Promise<unknown>;
  /** A private session for an object made by `pool.python.create`. */
  openPrivateSession(): SessionCore;
  /** The audit log, which records names the allow list refuses here. */
  readonly audit?: AuditLog | undefined;
}

export class PythonCalls {
  constructor(
    private readonly host: PythonCallHost,
    private readonly session: SessionCore | undefined,
  ) {}

  /**
   * Call the Python function `name` (`numpy.linalg.norm`) with positional `args` and `options.kwargs`.
   * In a session, a result with no wire encoding comes back as a reference; outside one it is an
   * ENCODE_ERROR. Rejects with PERMISSION_DENIED when `allow` does not permit `name`.
   */
  call<T = unknown>(name: string, args: unknown[] = [], options?: PythonCallOptions): Promise<T> {
    try {
      const { kwargs, call } = this.check(name, args, options);
      const payload = { name, args, kwargs, mode: 'auto' };
      return this.host.execute(BUILTIN_TOOLS.PYTHON_CALL, payload, call, { session: this.session, builtin: true }) as Promise<T>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Create an instance of the Python class `name` and return a reference to it. Outside a session the
   * object gets a private session of its own, which ends when the last reference from it is released.
   */
  async create(name: string, args: unknown[] = [], options?: PythonCallOptions): Promise<PythonRef> {
    const { kwargs, call } = this.check(name, args, options, BUILTIN_TOOLS.PYTHON_CREATE);
    const session = this.session ?? this.host.openPrivateSession();
    try {
      return (await session.run(BUILTIN_TOOLS.PYTHON_CREATE, { name, args, kwargs }, call)) as PythonRef;
    } catch (err) {
      if (this.session === undefined) void session.close();
      throw err;
    }
  }

  private check(
    name: unknown,
    args: unknown,
    options: PythonCallOptions | undefined,
    tool: string = BUILTIN_TOOLS.PYTHON_CALL,
  ): ReturnType<typeof checkPythonCallOptions> {
    if (typeof name !== 'string') throw new InvalidArgumentsError(`a Python name must be a string, got ${typeof name}`);
    if (!Array.isArray(args)) throw new InvalidArgumentsError(`arguments of ${name} must be an array of positional arguments`);
    const checked = checkPythonCallOptions(options, this.host.options.timeout);
    const problem = checkDottedName(name);
    const denied = problem !== undefined ? `${JSON.stringify(name)} ${problem}` : denialReason(name, this.host.options.allow);
    if (denied !== undefined) {
      const error = new PermissionDeniedError(name, denied);
      this.host.audit?.refused(tool, { name, args, kwargs: checked.kwargs }, checked.call.principal, this.session?.id, error);
      throw error;
    }
    return checked;
  }
}

/** The environment of a worker: the pool's `env`, plus the allowlist and the per-session reference bound. */
export function workerEnv(options: ResolvedPoolOptions): Readonly<Record<string, string>> {
  return {
    ...options.env,
    SNAKEPIT_ALLOW: JSON.stringify(options.allow),
    SNAKEPIT_MAX_REFS: String(options.maxRefs),
    ...(options.types ? { SNAKEPIT_CATALOGUE_TYPES: '1' } : {}),
  };
}
