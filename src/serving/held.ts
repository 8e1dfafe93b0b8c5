/**
 * A call held on the host before the pool sees it (in a tenant's fair queue, or a batch being
 * assembled). It keeps the caller's deadline and AbortSignal: either settles it with the same errors
 * the pool gives, and frees its place.
 */

import { CallAbortedError, CallTimeoutError, QueueTimeoutError, type SnakepitError } from '../errors.js';
import { onAbort } from '../abort.js';

export class HeldCall {
  readonly promise: Promise<unknown>;
  readonly submittedAt = performance.now();
  settled = false;
  /** The pool has the call: a deadline now is TIMEOUT, no longer QUEUE_TIMEOUT. */
  dispatched = false;
  /** When the pool took the call (performance.now()), and how many calls went with it. */
  dispatchedAt = 0;
  batchSize = 1;
  private resolveFn!: (value: unknown) => void;
  private rejectFn!: (error: unknown) => void;
  private timer: NodeJS.Timeout | undefined;
  /** Stops watching the caller's signal (abort.ts), for a call with one. */
  private unwatch: (() => void) | undefined;

  constructor(
    readonly tool: string,
    readonly args: Record<string, unknown> | undefined,
    /** The deadline in ms from submission (0: none). */
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
    /** Called once when the call leaves by its deadline or its signal, to drop it from where it waits. */
    private readonly onGone: (call: HeldCall) => void,
  ) {
    this.promise = new Promise<unknown>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    if (timeoutMs > 0) this.timer = setTimeout(HeldCall.deadline, timeoutMs, this);
    if (signal !== undefined) {
      if (signal.aborted) queueMicrotask(() => this.abort());
      else this.unwatch = onAbort(signal, () => this.abort());
    }
  }

  /** Milliseconds left before the deadline: 0 for none, at least 1 otherwise. */
  remainingMs(): number {
    if (this.timeoutMs <= 0) return 0;
    return Math.max(1, Math.ceil(this.timeoutMs - (performance.now() - this.submittedAt)));
  }

  private static deadline(call: HeldCall): void {
    const waited = Math.round(performance.now() - call.submittedAt);
    call.gone(call.dispatched ? new CallTimeoutError(call.tool, call.timeoutMs) : new QueueTimeoutError(call.tool, waited));
  }

  private abort(): void {
    this.gone(new CallAbortedError(this.tool, this.signal?.reason));
  }

  private gone(error: SnakepitError): void {
    if (this.settled) return;
    this.reject(error);
    this.onGone(this);
  }

  resolve(value: unknown): void {
    if (this.settled) return;
    this.cleanup();
    this.resolveFn(value);
  }

  reject(error: unknown): void {
    if (this.settled) return;
    this.cleanup();
    this.rejectFn(error);
  }

  private cleanup(): void {
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.unwatch?.();
    this.unwatch = undefined;
  }
}
