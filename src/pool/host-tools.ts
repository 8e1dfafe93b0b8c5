/**
 * Python calling TypeScript. Host tools are registered on the pool (`pool.registerTool`) or on one
 * session (`session.registerTool`, which shadows a pool tool of the same name). A worker sends
 * `host_call` while one of its calls runs; the tool runs here with that call's deadline and an
 * AbortSignal that fires when the call is over, and its value (or its error's code and message) goes
 * back in `host_result`.
 *
 * A host tool may call Python again. Such a nested call inherits the deadline and the signal, and it
 * never waits in a queue: the slot it would wait for may be held by the very call that waits on it,
 * so without a free slot it fails at once with NESTED_CALL_BLOCKED instead of deadlocking.
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { inspect } from 'node:util';
import { InvalidOptionsError, NestedCallBlockedError, type ErrorFields } from '../errors.js';
import { checkHostTool, type HostToolOptions } from '../call-options.js';
import type { Frame } from '../protocol/frames.js';
import { HOST_BUILTIN_TOOLS, hostResultMessage, type HostToolFailure } from '../protocol/messages.js';
import type { WorkerHandle } from '../worker/worker.js';
import type { Call } from './call.js';
import type { Session } from './session.js';

/** What a host tool knows about the Python call that called it. */
export interface HostToolContext {
  /** Fires when the calling Python call is over (answered, timed out, aborted, or its worker died). */
  readonly signal: AbortSignal;
  /** Milliseconds left before the calling call's deadline, or null when it has none. */
  readonly timeout: number | null;
  /** The session of the calling call, if it runs in one. */
  readonly session: Session | undefined;
  /** The Python tool that made the host call, and its request id. */
  readonly tool: string;
  readonly requestId: number;
  readonly workerId: number;
  readonly pid: number | undefined;
}

/** A host tool: receives Python's keyword arguments; may return a value or a promise. */
export type HostToolFn = (args: Record<string, unknown>, ctx: HostToolContext) => unknown;

/** How `ctx.host_tools()` in Python describes a host tool. */
export interface HostToolInfo {
  readonly name: string;
  readonly description: string;
  readonly parameters: Readonly<Record<string, unknown>>;
}

interface Entry extends HostToolInfo {
  readonly fn: HostToolFn;
  readonly required: readonly string[];
}

/** A set of host tools by name: the pool's, or one session's. */
export class HostToolRegistry {
  private readonly tools = new Map<string, Entry>();

  /** Register `fn` as `name`; returns a function that unregisters it. Throws INVALID_OPTIONS. */
  register(name: string, fn: HostToolFn, options?: HostToolOptions): () => void {
    const { description, parameters } = checkHostTool(name, fn, options);
    if (this.tools.has(name)) {
      throw new InvalidOptionsError(`host tool ${name} is registered already; unregister it first`);
    }
    const required = Array.isArray(parameters.required) ? (parameters.required as string[]) : [];
    const entry: Entry = Object.freeze({ name, description, parameters, fn, required });
    this.tools.set(name, entry);
    return () => {
      if (this.tools.get(name) === entry) this.tools.delete(name);
    };
  }

  unregister(name: string): boolean {
    return this.tools.delete(name);
  }

  get(name: string): Entry | undefined {
    return this.tools.get(name);
  }

  list(): HostToolInfo[] {
    return [...this.tools.values()].map(({ name, description, parameters }) => ({ name, description, parameters }));
  }

  get size(): number {
    return this.tools.size;
  }
}

// ------------------------------------------------------------------------------------------------
// Nested calls: a host tool's own calls into Python know which call they are nested in.

const scope = new AsyncLocalStorage<Call>();

/** The Python call whose host tool is running here, if any. */
export function currentHostCall(): Call | undefined {
  return scope.getStore();
}

/** The deadline and signal of a call made from a host tool: never beyond those of its parent. */
export function nestedLimits(
  parent: Call,
  timeout: number,
  signal: AbortSignal | undefined,
): { timeout: number; signal: AbortSignal } {
  const left = parent.remainingMs();
  const bounded = left === null ? timeout : timeout > 0 ? Math.min(timeout, left) : left;
  const inherited = parent.hostSignal;
  return { timeout: bounded, signal: signal === undefined ? inherited : AbortSignal.any([signal, inherited]) };
}

export function nestedBlocked(tool: string, where: string, fields: ErrorFields = {}): NestedCallBlockedError {
  return new NestedCallBlockedError(
    tool,
    `call to ${tool} made from a host tool found no free slot on ${where}; waiting could deadlock, ` +
      'so it was not queued (raise size or concurrency, or avoid calling Python from this host tool)',
    fields,
  );
}

/** `nestedBlocked` for a nested call no worker of the pool is free to run (the scheduler's callback). */
export function blockedAnywhere(call: { readonly tool: string; readonly id: number }): NestedCallBlockedError {
  return nestedBlocked(call.tool, 'any worker', { requestId: call.id });
}

// ------------------------------------------------------------------------------------------------
// Answering host calls.

export interface HostCallPool {
  readonly hostTools: HostToolRegistry;
  readonly options: { readonly maxPayload: number };
  /** Runs the tool inside its trace span (src/telemetry). */
  readonly telemetry: { hostTool<T>(call: Call, trace: unknown, name: string, run: () => T): T };
}

function failure(err: unknown): HostToolFailure {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
    return typeof code === 'string' && code !== ''
      ? { code, message: err.message }
      : { code: 'HOST_TOOL_ERROR', message: `${name}${err.message}` };
  }
  // Not an Error (`throw 'text'`, `throw { code: 42 }`): as inspect shows it, not "[object Object]".
  return { code: 'HOST_TOOL_ERROR', message: typeof err === 'string' ? err : inspect(err, { depth: 2, breakLength: Infinity }).slice(0, 1000) };
}

/** The HostToolContext of one host call; its signal is made only when a tool asks for it. */
class ToolContext implements HostToolContext {
  readonly timeout: number | null;

  constructor(
    private readonly parent: Call,
    private readonly worker: WorkerHandle,
  ) {
    this.timeout = parent.remainingMs();
  }

  get signal(): AbortSignal {
    return this.parent.hostSignal;
  }

  get session(): Session | undefined {
    return this.parent.session?.face;
  }

  get tool(): string {
    return this.parent.tool;
  }

  get requestId(): number {
    return this.parent.id;
  }

  get workerId(): number {
    return this.worker.id;
  }

  get pid(): number | undefined {
    return this.worker.pid;
  }
}

export class HostCalls {
  constructor(private readonly pool: HostCallPool) {}

  /** A worker sent `host_call`: run the tool and answer. Never throws. */
  handle(worker: WorkerHandle, id: number, parentId: number, name: string, rawArgs: unknown, trace?: unknown): void {
    const parent = worker.pending.get(parentId) as Call | undefined;
    if (parent === undefined || parent.settled) {
      this.reply(worker, id, false, { code: 'CANCELLED', message: `the call that made host call ${name} is over` });
      return;
    }
    const session = parent.session;
    const args = (session !== undefined ? session.decode(rawArgs) : rawArgs) as Record<string, unknown>;
    if (name === HOST_BUILTIN_TOOLS.LIST) {
      this.reply(worker, id, true, this.list(parent));
      return;
    }
    const entry = session?.hostTools?.get(name) ?? this.pool.hostTools.get(name);
    if (entry === undefined) {
      const known = this.list(parent).map((t) => t.name);
      const message = `no host tool named ${JSON.stringify(name)}; host tools: ${known.length ? known.join(', ') : '(none)'}`;
      this.reply(worker, id, false, { code: 'TOOL_NOT_FOUND', message });
      return;
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      this.reply(worker, id, false, { code: 'INVALID_ARGUMENTS', message: `host tool ${name} takes keyword arguments` });
      return;
    }
    for (const key of entry.required) {
      if (!(key in args)) {
        const missing = entry.required.filter((k) => !(k in args));
        this.reply(worker, id, false, { code: 'INVALID_ARGUMENTS', message: `host tool ${name} is missing ${missing.join(', ')}` });
        return;
      }
    }
    let value: unknown;
    try {
      const ctx = new ToolContext(parent, worker);
      value = this.pool.telemetry.hostTool(parent, trace, name, () => scope.run(parent, entry.fn, args, ctx));
    } catch (err) {
      this.reply(worker, id, false, failure(err));
      return;
    }
    if (value !== null && typeof (value as PromiseLike<unknown> | undefined)?.then === 'function') {
      (value as PromiseLike<unknown>).then(
        (v) => this.reply(worker, id, true, v),
        (err: unknown) => this.reply(worker, id, false, failure(err)),
      );
    } else {
      this.reply(worker, id, true, value);
    }
  }

  private list(parent: Call): HostToolInfo[] {
    const own = parent.session?.hostTools?.list() ?? [];
    const names = new Set(own.map((t) => t.name));
    return [...own, ...this.pool.hostTools.list().filter((t) => !names.has(t.name))];
  }

  private reply(worker: WorkerHandle, id: number, ok: boolean, value: unknown): void {
    if (worker.state === 'exited') return;
    let frame: Frame;
    try {
      frame = worker.encode(hostResultMessage(id, ok, value), 'host tool result');
    } catch (err) {
      frame = worker.encode(hostResultMessage(id, false, failure(err)));
    }
    try {
      worker.send(frame);
    } catch {
      /* the worker is gone; its calls are settled by its exit */
    }
  }
}
