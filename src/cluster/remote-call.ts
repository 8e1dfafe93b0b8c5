/**
 * One call of a remote pool, from submission to settlement, on the host. The caller's side settles
 * exactly once: a result, a typed error from the agent, the deadline (a cancel goes to the agent), an
 * abort, or the agent's loss. Streams reuse the local ToolStream (its buffer and credit rules).
 */

import { CallAbortedError, CallTimeoutError, type SnakepitError } from '../errors.js';
import type { Call } from '../pool/call.js';
import { StreamFeed, ToolStream } from '../pool/stream.js';
import { K } from './wire.js';
import { onAbort } from '../abort.js';

export type CallKind = typeof K.EXECUTE | typeof K.STREAM | typeof K.PYCALL;

/** What a call needs from its remote pool. */
export interface RemoteCallHost {
  /** Tell the agent to stop the call (deadline, abort, stream left). */
  cancelRemote(call: RemoteCall): void;
  /** Grant the agent `n` more chunks of a stream. */
  credit(call: RemoteCall, n: number): void;
  /** The caller's side settled: forget the call. */
  settled(call: RemoteCall, error: SnakepitError | undefined): void;
}

export class RemoteCall {
  /** The agent it was sent to (the last one, for a retried call). */
  agent: string | undefined;
  /** Agents it was sent to. */
  readonly tried = new Set<string>();
  settled = false;
  /** Times it was sent; a reply names its attempt, so a late one of an earlier attempt is ignored. */
  attempt = 0;
  /** Chunks delivered: a stream that delivered any is never retried. */
  chunks = 0;
  readonly stream: ToolStream | undefined;
  /** The producer side of `stream`: chunks, end and errors go in here. */
  private readonly feed: StreamFeed | undefined;
  private readonly deadline: number;
  private timer: NodeJS.Timeout | undefined;
  /** Stops watching the caller's signal (abort.ts), for a call with one. */
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly host: RemoteCallHost,
    readonly id: number,
    readonly kind: CallKind,
    readonly tool: string,
    readonly args: Record<string, unknown>,
    readonly timeoutMs: number,
    readonly flags: number,
    readonly window: number,
    idleTimeout: number,
    signal: AbortSignal | undefined,
    readonly sessionId: string | null,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: SnakepitError) => void,
  ) {
    this.deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
    if (timeoutMs > 0) this.timer = setTimeout(RemoteCall.deadlinePassed, timeoutMs, this);
    if (kind === K.STREAM) {
      this.feed = new StreamFeed(window, idleTimeout, (n) => this.host.credit(this, n));
      // The stream asks its call to give up (cancel, idle timeout) through `abandon`.
      this.feed.attach(this as unknown as Call);
      this.stream = new ToolStream(this.feed);
    }
    if (signal !== undefined) {
      const abort = (): void => this.abandon(new CallAbortedError(this.tool, signal.reason, { requestId: this.id }));
      if (signal.aborted) queueMicrotask(abort);
      else this.unwatch = onAbort(signal, abort);
    }
  }

  /** Ms left before the deadline (at least 1), or 0 when the call has none. */
  remainingMs(): number {
    return this.deadline === 0 ? 0 : Math.max(1, this.deadline - Date.now());
  }

  get idempotent(): boolean {
    return (this.flags & 1) !== 0;
  }

  /** Compatibility with ToolStream's idle timer, which names the call's worker. */
  get worker(): undefined {
    return undefined;
  }

  succeed(value: unknown): void {
    if (this.settled) return;
    this.finish(undefined);
    if (this.feed !== undefined) {
      this.feed.value(value);
    } else {
      this.resolve(value);
    }
  }

  chunk(value: unknown): void {
    if (this.settled || this.feed === undefined) return;
    this.chunks++;
    this.feed.chunk(value);
  }

  end(): void {
    if (this.settled) return;
    this.finish(undefined);
    this.feed?.end();
  }

  fail(error: SnakepitError): void {
    if (this.settled) return;
    this.finish(error);
    if (this.feed !== undefined) this.feed.fail(error);
    else this.reject(error);
  }

  /** The caller's side gives up (deadline, abort, stream cancelled): settle now and cancel remotely. */
  abandon(error: SnakepitError): void {
    if (this.settled) return;
    const sent = this.agent !== undefined;
    this.fail(error);
    if (sent) this.host.cancelRemote(this);
  }

  private finish(error: SnakepitError | undefined): void {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.unwatch?.();
    this.unwatch = undefined;
    this.host.settled(this, error);
  }

  private static deadlinePassed(call: RemoteCall): void {
    call.abandon(new CallTimeoutError(call.tool, call.timeoutMs, { requestId: call.id }));
  }
}
