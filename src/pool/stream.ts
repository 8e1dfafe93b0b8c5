/**
 * The consumer side of a streaming call: an AsyncIterable over the chunks a Python generator yields,
 * with credit-based flow control. The worker sends at most `window` chunks beyond what the consumer
 * has taken, so the buffer here never holds more than `window` chunks.
 */

import { CallTimeoutError, CancelledError, type SnakepitError } from '../errors.js';
import type { Call, CallConsumer } from './call.js';

/** What a `ToolStream` reads from: its feed's consumer side. */
interface StreamSource<T> {
  readonly buffered: number;
  readonly peakBuffered: number;
  next(): Promise<IteratorResult<T>>;
  cancel(): void;
}

/**
 * The chunks of a streaming call, as an async iterator: `for await (const chunk of pool.stream(...))`.
 * Leaving the loop early cancels the Python generator (its `finally` runs).
 */
export class ToolStream<T = unknown> implements AsyncIterableIterator<T> {
  readonly #source: StreamSource<T>;

  constructor(source: StreamSource<T>) {
    this.#source = source;
  }

  /** Chunks received and not yet taken by the consumer. */
  get buffered(): number {
    return this.#source.buffered;
  }

  /** Largest number of chunks held at once (never above the window). */
  get peakBuffered(): number {
    return this.#source.peakBuffered;
  }

  next(): Promise<IteratorResult<T>> {
    return this.#source.next();
  }

  /** Leaving the loop early (`break`, `return`, an exception) cancels the Python generator. */
  return(): Promise<IteratorResult<T>> {
    this.#source.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Stop the stream: the worker closes the generator (its `finally` runs); buffered chunks are dropped. */
  cancel(): void {
    this.#source.cancel();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

/**
 * The producer side and buffer of one stream (internal): the call feeds it, `ToolStream` reads it.
 * Kept apart so that the public class shows iteration and `cancel` only.
 */
export class StreamFeed<T = unknown> implements CallConsumer {
  private readonly buffer: T[] = [];
  private head = 0;
  private finished = false;
  private error: SnakepitError | undefined;
  private waiter: Waiter<T> | undefined;
  private taken = 0;
  private call: Call | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Largest number of chunks held here at once. */
  peakBuffered = 0;

  constructor(
    private readonly window: number,
    private readonly idleTimeoutMs: number,
    /** How credit reaches the producer; by default the call's worker. */
    private readonly grant: (n: number) => void = (n) => this.call?.worker?.credit(this.call.id, n),
  ) {}

  attach(call: Call): void {
    this.call = call;
    this.armIdle();
  }

  /** Chunks received and not yet taken by the consumer. */
  get buffered(): number {
    return this.buffer.length - this.head;
  }

  // ------------------------------------------------------------- producer side

  value(value: unknown): void {
    // A stream's worker ends with `end`; a plain value only arrives from a non-streaming tool.
    this.chunk(value);
    this.end();
  }

  chunk(value: unknown): void {
    this.armIdle();
    const waiter = this.waiter;
    if (waiter !== undefined && this.buffered === 0) {
      this.waiter = undefined;
      this.took();
      waiter.resolve({ value: value as T, done: false });
      return;
    }
    this.buffer.push(value as T);
    if (this.buffered > this.peakBuffered) this.peakBuffered = this.buffered;
  }

  end(): void {
    this.finish(undefined);
  }

  fail(error: SnakepitError): void {
    this.finish(error);
  }

  private finish(error: SnakepitError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    this.clearIdle();
    const waiter = this.waiter;
    if (waiter !== undefined && this.buffered === 0) {
      this.waiter = undefined;
      this.deliverEnd(waiter);
    }
  }

  // ------------------------------------------------------------- consumer side

  next(): Promise<IteratorResult<T>> {
    if (this.buffered > 0) {
      const value = this.buffer[this.head]!;
      this.buffer[this.head++] = undefined as T;
      if (this.head === this.buffer.length) {
        this.buffer.length = 0;
        this.head = 0;
      }
      this.took();
      return Promise.resolve({ value, done: false });
    }
    if (this.finished) {
      return new Promise((resolve, reject) => this.deliverEnd({ resolve, reject }));
    }
    if (this.waiter !== undefined) {
      return Promise.reject(new TypeError('ToolStream.next() called again before the previous call settled'));
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Stop the stream: the worker closes the generator (its `finally` runs); buffered chunks are dropped. */
  cancel(): void {
    this.buffer.length = 0;
    this.head = 0;
    if (!this.finished && this.call !== undefined) {
      this.call.abandon(new CancelledError(this.call.tool, { requestId: this.call.id }));
    }
    this.finished = true;
    this.error = undefined;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
  }

  private deliverEnd(waiter: Waiter<T>): void {
    const error = this.error;
    if (error !== undefined) {
      this.error = undefined; // thrown once; the iterator is done afterwards
      waiter.reject(error);
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }

  private took(): void {
    if (this.finished) return;
    this.taken++;
    if (this.taken * 2 >= this.window) {
      const n = this.taken;
      this.taken = 0;
      this.grant(n);
    }
  }

  private armIdle(): void {
    if (this.idleTimeoutMs <= 0 || this.finished) return;
    this.clearIdle();
    this.idleTimer = setTimeout(() => {
      const call = this.call;
      if (call === undefined) return;
      call.abandon(
        new CallTimeoutError(call.tool, this.idleTimeoutMs, { requestId: call.id, workerId: call.worker?.id }, true),
      );
    }, this.idleTimeoutMs);
  }

  private clearIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}
