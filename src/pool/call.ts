/**
 * One accepted call, from submission to settlement. It is the worker's CallSink while in flight and
 * the queue's entry while waiting. The caller's side settles exactly once (result, error, timeout,
 * abort); the worker's side ends when the worker answers or dies, which frees the slot.
 */

import {
  CallAbortedError,
  CallTimeoutError,
  QueueTimeoutError,
  type SnakepitError,
} from '../errors.js';
import type { WireError } from '../protocol/messages.js';
import type { CallSink, WorkerHandle } from '../worker/worker.js';
import type { Queued } from '../scheduling/queue.js';
import type { SessionCore } from './session.js';
import { onAbort } from '../abort.js';

/** What a call needs from its pool. */
export interface CallHost {
  readonly cancelGrace: number;
  unqueue(call: Call): boolean;
  wireError(call: Call, wire: WireError): SnakepitError;
  /** The caller's side settled: count it. */
  recordSettled(call: Call, error: SnakepitError | undefined): void;
  /**
   * The call's worker died with the call in flight. Returns the error to settle the call with, or
   * undefined when the pool took the call back to try it again (idempotent calls only; retry.ts).
   */
  onLost(call: Call, error: SnakepitError): SnakepitError | undefined;
}

/** Receives the values of a call: a plain result, or stream chunks. */
export interface CallConsumer {
  value(value: unknown): void;
  chunk(value: unknown): void;
  end(): void;
  fail(error: SnakepitError): void;
}

/** The consumer of a plain call: its promise. A class, so a call allocates no method closures. */
export class PlainConsumer implements CallConsumer {
  constructor(
    readonly value: (value: unknown) => void,
    readonly fail: (error: SnakepitError) => void,
  ) {}

  chunk(): void {}

  end(): void {}
}

export class Call implements CallSink, Queued {
  dequeued = true;
  worker: WorkerHandle | undefined;
  /** The caller's side has settled (result delivered, or an error raised). */
  settled = false;
  readonly submittedAt = performance.now();
  dispatchedAt = 0;
  /** Times the call was sent to a worker (more than one only for retried idempotent calls). */
  attempts = 0;
  /** Stream chunks delivered to the consumer; a call that delivered any is never retried. */
  chunks = 0;
  /** The caller marked the call safe to run more than once. */
  idempotent = false;
  /** The `principal` call option (audit log). */
  principal: string | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** Stops watching the caller's signal (abort.ts), for a call with one. */
  private unwatch: (() => void) | undefined;
  private queueTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  // Sessions and host calls (session.ts, host-tools.ts).
  /** The session this call belongs to: it runs on the session's worker only. */
  session: SessionCore | undefined;
  /** Made from a host tool while another call waits on it: it never queues (that could deadlock). */
  nested = false;
  private hostCalls: AbortController | undefined;
  private hostCallsOver = false;
  private hostCallsReason: unknown;

  constructor(
    private readonly host: CallHost,
    readonly id: number,
    readonly tool: string,
    readonly args: Record<string, unknown>,
    readonly timeoutMs: number,
    readonly window: number,
    private readonly signal: AbortSignal | undefined,
    private readonly consumer: CallConsumer,
  ) {
    // Timers take the call as an argument of a static function: no closure allocated per call.
    if (timeoutMs > 0) {
      this.deadlineTimer = setTimeout(Call.deadlinePassed, timeoutMs, this);
    }
    if (signal !== undefined) {
      if (signal.aborted) this.aborted();
      else this.unwatch = onAbort(signal, () => this.aborted());
    }
  }

  /** Milliseconds left before the deadline at `now` (performance.now()), or null when there is none. */
  remainingMs(now = performance.now()): number | null {
    if (this.timeoutMs <= 0) return null;
    return Math.max(1, Math.ceil(this.timeoutMs - (now - this.submittedAt)));
  }

  armQueueTimeout(ms: number): void {
    if (ms > 0) this.queueTimer = setTimeout(Call.queueTimeoutPassed, ms, this);
  }

  markDispatched(worker: WorkerHandle, now = performance.now()): void {
    this.worker = worker;
    this.attempts++;
    this.dispatchedAt = now;
    if (this.queueTimer !== undefined) {
      clearTimeout(this.queueTimer);
      this.queueTimer = undefined;
    }
  }

  /**
   * Aborted once the call is over on either side (answered, failed, timed out, aborted, worker lost):
   * host tools it called see their work is no longer awaited, and nested calls inherit it.
   */
  get hostSignal(): AbortSignal {
    if (this.hostCalls === undefined) {
      this.hostCalls = new AbortController();
      if (this.hostCallsOver) this.hostCalls.abort(this.hostCallsReason);
    }
    return this.hostCalls.signal;
  }

  private endHostCalls(reason: unknown): void {
    if (this.hostCallsOver) return;
    this.hostCallsOver = true;
    this.hostCallsReason = reason;
    this.hostCalls?.abort(reason);
  }

  /** Settle the caller's side with an error (no-op once settled). */
  fail(error: SnakepitError): void {
    if (this.settled) return;
    if (this.session !== undefined) error = this.session.translate(error);
    this.settled = true;
    this.endHostCalls(error);
    this.clearCallerTimers();
    this.host.recordSettled(this, error);
    this.consumer.fail(error);
  }

  /** The caller gave up while the call runs: tell the worker, and kill it if it does not stop. */
  abandon(error: SnakepitError): void {
    if (this.settled) return;
    if (this.host.unqueue(this)) {
      this.fail(error);
      return;
    }
    this.fail(error);
    const worker = this.worker;
    if (worker === undefined || !worker.pending.has(this.id)) return;
    worker.cancel(this.id);
    this.graceTimer = setTimeout(() => {
      if (worker.pending.get(this.id) === this) void worker.kill('cancel-grace');
    }, this.host.cancelGrace);
  }

  private clearCallerTimers(): void {
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    if (this.queueTimer !== undefined) clearTimeout(this.queueTimer);
    this.deadlineTimer = this.queueTimer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private static deadlinePassed(call: Call): void {
    call.deadlineTimer = undefined;
    call.onDeadline();
  }

  private static queueTimeoutPassed(call: Call): void {
    call.queueTimer = undefined;
    call.onQueueTimeout();
  }

  private onDeadline(): void {
    if (this.attempts > 0 && this.host.unqueue(this)) {
      // Waiting for a retry after its worker crashed: it did run, so this is a timeout, not a queue timeout.
      this.fail(new CallTimeoutError(this.tool, this.timeoutMs, { requestId: this.id }));
      return;
    }
    if (this.host.unqueue(this)) {
      this.fail(new QueueTimeoutError(this.tool, Math.round(performance.now() - this.submittedAt), { requestId: this.id }));
      return;
    }
    this.abandon(
      new CallTimeoutError(this.tool, this.timeoutMs, { requestId: this.id, workerId: this.worker?.id, pid: this.worker?.pid }),
    );
  }

  private onQueueTimeout(): void {
    if (this.host.unqueue(this)) {
      this.fail(new QueueTimeoutError(this.tool, Math.round(performance.now() - this.submittedAt), { requestId: this.id }));
    }
  }

  private aborted(): void {
    const error = new CallAbortedError(this.tool, this.signal?.reason, { requestId: this.id });
    if (this.host.unqueue(this)) this.fail(error);
    else this.abandon(error);
  }


  // ------------------------------------------------------------ CallSink

  onResult(value: unknown): void {
    this.endWorkerSide();
    if (this.settled) return;
    this.settled = true;
    this.clearCallerTimers();
    this.host.recordSettled(this, undefined);
    this.consumer.value(value);
  }

  onError(wire: WireError): void {
    this.endWorkerSide();
    if (!this.settled) this.fail(this.host.wireError(this, wire));
  }

  onChunk(value: unknown): void {
    if (this.settled) return;
    this.chunks++;
    this.consumer.chunk(value);
  }

  onEnd(): void {
    this.endWorkerSide();
    if (this.settled) return;
    this.settled = true;
    this.clearCallerTimers();
    this.host.recordSettled(this, undefined);
    this.consumer.end();
  }

  onWorkerLost(error: SnakepitError): void {
    this.endWorkerSide();
    if (this.settled) return;
    const final = this.host.onLost(this, error);
    if (final !== undefined) this.fail(final);
  }

  /** Forget the dead worker before the call waits in the queue again. */
  prepareRetry(): void {
    this.worker = undefined;
    this.dispatchedAt = 0;
  }

  private endWorkerSide(): void {
    this.endHostCalls(undefined);
    if (this.graceTimer !== undefined) {
      clearTimeout(this.graceTimer);
      this.graceTimer = undefined;
    }
  }
}
