/**
 * Dynamic batching of one tool declared `@tool(batch=Batch(max_size, max_wait_ms))`.
 *
 * The rule: a batch leaves
 *   - at once (at the end of the current turn of the event loop, which gathers the calls made in the
 *     same turn) when the pool has a free slot: a call never waits while a worker is idle;
 *   - when `maxSize` calls are waiting;
 *   - when a slot frees (a batch or another call of the pool finished) while calls are waiting;
 *   - at the latest `maxWaitMs` after the first waiting call, even with every slot busy (it then waits
 *     in the pool's queue like any call).
 * So batches grow only when the pool is busy, which is when batching pays.
 *
 * Each call keeps its own result, error, deadline and AbortSignal: a call whose deadline passes or
 * whose signal fires before the batch leaves is dropped from it; after, it settles at once and its
 * result is discarded. A batch whose arguments are over maxPayload is split in two and sent again
 * (it was never sent); a failure of the whole batch fails each of its calls.
 */

import { PythonError, SnakepitError, type ErrorFields } from '../errors.js';
import type { WireError } from '../protocol/messages.js';
import { HeldCall } from './held.js';
import type { Capacity } from './tenants.js';

/** The key that carries a batch to the worker (python/snakepit_bridge/serving.py). */
const BATCH_KEY = '$batch';

export type SendBatch = (tool: string, args: Record<string, unknown>, timeoutMs: number) => Promise<unknown>;

export interface BatchStats {
  readonly batches: number;
  readonly calls: number;
  /** Batches by size: `sizes[n]` is how many batches held n calls (index 0 unused). */
  readonly sizes: readonly number[];
}

export class ToolBatcher {
  private pending: HeldCall[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  batches = 0;
  calls = 0;
  readonly sizes: number[];

  constructor(
    readonly tool: string,
    private readonly maxSize: number,
    private readonly maxWaitMs: number,
    private readonly capacity: Capacity,
    private readonly send: SendBatch,
    private readonly onSettled: () => void,
  ) {
    this.sizes = new Array<number>(maxSize + 1).fill(0);
  }

  add(args: Record<string, unknown> | undefined, timeoutMs: number, signal: AbortSignal | undefined): HeldCall {
    const call = new HeldCall(this.tool, args ?? {}, timeoutMs, signal, (gone) => this.drop(gone));
    this.pending.push(call);
    if (this.pending.length >= this.maxSize) this.flush();
    else if (this.capacity.free()) this.immediate ??= setImmediate(ToolBatcher.flushLater, this);
    else this.timer ??= setTimeout(ToolBatcher.flushLater, this.maxWaitMs, this);
    return call;
  }

  /** A slot of the pool freed: send what waits. */
  slotFreed(): void {
    if (this.pending.length > 0 && this.capacity.free()) this.flush();
  }

  private static flushLater(batcher: ToolBatcher): void {
    batcher.immediate = undefined;
    batcher.flush();
  }

  private drop(call: HeldCall): void {
    const i = this.pending.indexOf(call);
    if (i >= 0) this.pending.splice(i, 1);
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxSize);
      this.dispatch(batch);
    }
  }

  private dispatch(batch: HeldCall[]): void {
    const live = batch.filter((c) => !c.settled);
    if (live.length === 0) return;
    let timeoutMs = 0;
    for (const c of live) {
      const r = c.remainingMs();
      if (r === 0) {
        timeoutMs = 0;
        break;
      }
      timeoutMs = Math.max(timeoutMs, r);
    }
    const now = performance.now();
    for (const c of live) {
      c.dispatched = true;
      c.dispatchedAt = now;
      c.batchSize = live.length;
    }
    this.batches++;
    this.calls += live.length;
    this.sizes[live.length]!++;
    this.capacity.take();
    let sent: Promise<unknown>;
    try {
      sent = this.send(this.tool, { [BATCH_KEY]: live.map((c) => c.args) }, timeoutMs);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      (results) => {
        this.release();
        this.distribute(live, results);
      },
      (err: unknown) => {
        this.release();
        if (err instanceof SnakepitError && err.code === 'PAYLOAD_TOO_LARGE' && err.message.startsWith('arguments of') && live.length > 1) {
          // Never sent: send each half on its own.
          this.batches--;
          this.calls -= live.length;
          this.sizes[live.length]!--;
          const half = Math.ceil(live.length / 2);
          this.dispatch(live.slice(0, half));
          this.dispatch(live.slice(half));
          return;
        }
        for (const c of live) c.reject(err);
      },
    );
  }

  private release(): void {
    this.capacity.give();
    this.onSettled();
  }

  private distribute(calls: HeldCall[], results: unknown): void {
    if (!Array.isArray(results) || results.length !== calls.length) {
      const error = new SnakepitError('PROTOCOL_ERROR', `batched tool ${this.tool} answered ${Array.isArray(results) ? results.length : typeof results} results for ${calls.length} calls`, { tool: this.tool });
      for (const c of calls) c.reject(error);
      return;
    }
    calls.forEach((call, i) => {
      const entry = results[i] as [number, unknown];
      if (Array.isArray(entry) && entry[0] === 0) call.resolve(entry[1]);
      else {
        const wire = (Array.isArray(entry) ? entry[1] : undefined) as WireError | undefined;
        const fields: ErrorFields = { tool: this.tool };
        call.reject(
          new PythonError(
            { type: wire?.type ?? 'Exception', module: wire?.module ?? '', message: String(wire?.message ?? ''), traceback: wire?.traceback ?? '' },
            fields,
          ),
        );
      }
    });
  }

  stats(): BatchStats {
    return Object.freeze({ batches: this.batches, calls: this.calls, sizes: Object.freeze([...this.sizes]) });
  }
}
