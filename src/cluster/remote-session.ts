/**
 * A session of a remote pool: pinned to one agent (and one worker there) at its first call, recorded
 * in the pool's sessions bucket so any host can find it by id. When that agent is lost the session is
 * lost (SESSION_LOST, reason `agent-lost`); it never moves silently to an agent with empty state.
 */

import { SessionClosedError, SessionLostError, type SnakepitError } from '../errors.js';
import type { ExecuteOptions, StreamOptions } from '../call-options.js';
import type { ToolStream } from '../pool/stream.js';
import type { SessionLike } from './types.js';

/** What a remote session needs from its pool. */
export interface RemoteSessionHost {
  sessionExecute(session: RemoteSession, tool: string, args: Record<string, unknown> | undefined, options?: ExecuteOptions): Promise<unknown>;
  sessionStream<T>(session: RemoteSession, tool: string, args: Record<string, unknown> | undefined, options?: StreamOptions): ToolStream<T>;
  sessionClose(session: RemoteSession): Promise<void>;
}

export class RemoteSession implements SessionLike {
  #state: 'open' | 'lost' | 'closed' = 'open';
  #lostError: SessionLostError | undefined;
  #closing: Promise<void> | undefined;
  /** The agent holding the session's state, once known. */
  agent: string | undefined;

  constructor(
    private readonly host: RemoteSessionHost,
    readonly id: string,
    /** Opened with an id given by the caller: its agent may be recorded in the sessions bucket. */
    readonly lookup: boolean,
  ) {}

  get state(): 'open' | 'lost' | 'closed' {
    return this.#state;
  }

  get lostError(): SessionLostError | undefined {
    return this.#lostError;
  }

  /** Why a new call cannot run, or undefined. */
  refusal(): SnakepitError | undefined {
    if (this.#state === 'closed') return new SessionClosedError(this.id);
    if (this.#state === 'lost') {
      const lost = this.#lostError!;
      return new SessionLostError(this.id, lost.reason, lost.message);
    }
    return undefined;
  }

  markLost(message: string, reason: SessionLostError['reason'] = 'agent-lost'): SessionLostError {
    if (this.#state === 'open') {
      this.#state = 'lost';
      this.#lostError = new SessionLostError(this.id, reason, message);
    }
    return this.#lostError ?? new SessionLostError(this.id, reason, message);
  }

  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T> {
    return this.host.sessionExecute(this, tool, args, options) as Promise<T>;
  }

  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: StreamOptions): ToolStream<T> {
    return this.host.sessionStream<T>(this, tool, args, options);
  }

  /** Free the session's Python state on its agent and refuse further calls. Idempotent. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.#closing = wasOpen ? this.host.sessionClose(this) : Promise.resolve();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
