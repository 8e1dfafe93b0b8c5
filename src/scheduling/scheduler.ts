/**
 * The one scheduler: where a call runs and when. It owns the rule for a worker's free capacity
 * (capacity.ts), the shared waiting room (calls any worker may run), the queues of sessions (calls
 * that must run on the worker holding their session, or wait for any worker to bind to), the bound
 * on everything waiting (`maxQueue`), and the order when a slot frees: the worker's session calls
 * first, then the shared room.
 *
 * The pool (src/pool/core.ts) admits a call and hands it here; the session layer
 * (src/pool/session-manager.ts) decides what a session's call may do (refused, busy, lost) and asks
 * here for placement. Extension points (policy.ts): the waiting room (per-tenant fair queues) and
 * the placement policy (batching).
 */

import { PoolSaturatedError, type SnakepitError } from '../errors.js';
import type { WorkerHandle } from '../worker/worker.js';
import { freeSlots } from './capacity.js';
import { fifoRoom, onePerPlacement, type PlacementPolicy, type Schedulable, type WaitingRoom } from './policy.js';
import { CallQueue } from './queue.js';

/** A call as the scheduler sees it. */
export interface ScheduledCall extends Schedulable {
  /** Calls made from a host tool never wait (the worker they wait on could be the one blocked). */
  readonly nested: boolean;
  /** Start the queue timeout (QUEUE_TIMEOUT when it passes before dispatch). */
  armQueueTimeout(ms: number): void;
  fail(error: SnakepitError): void;
}

export interface SchedulerHost<T extends ScheduledCall> {
  readonly workers: readonly WorkerHandle[];
  readonly options: { readonly maxQueue: number; readonly queueTimeout: number };
  /** Send `call` to `worker`, which has a free slot. */
  dispatch(call: T, worker: WorkerHandle): void;
  /** A session call left its worker's queue for a slot: route it again (its session may be gone). */
  placeSessionCall(call: T, worker: WorkerHandle): void;
}

export interface SchedulerPolicies<T extends Schedulable> {
  room?: WaitingRoom<T>;
  placement?: PlacementPolicy<T>;
}

export class Scheduler<T extends ScheduledCall> {
  private readonly room: WaitingRoom<T>;
  private readonly placement: PlacementPolicy<T>;
  /** Session calls waiting for the worker that holds their session. */
  private readonly sessionQueues = new Map<WorkerHandle, CallQueue<T>>();
  /** Session calls waiting for any worker to be ready, to bind to it. */
  private readonly unbound = new CallQueue<T>();
  private readonly queuedIn = new WeakMap<T, CallQueue<T>>();
  private sessionWaiting = 0;

  constructor(
    private readonly host: SchedulerHost<T>,
    policies: SchedulerPolicies<T> = {},
  ) {
    this.room = policies.room ?? fifoRoom<T>();
    this.placement = policies.placement ?? (onePerPlacement as PlacementPolicy<T>);
  }

  /** Calls waiting in the shared room. */
  get sharedQueued(): number {
    return this.room.length;
  }

  get peakShared(): number {
    return this.room.peak;
  }

  /** Every waiting call, shared and session. */
  get queued(): number {
    return this.room.length + this.sessionWaiting;
  }

  // ---------------------------------------------------------------- capacity

  /** The ready worker with the most free slots, or undefined when none has one. */
  leastLoaded(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestFree = 0;
    for (const worker of this.host.workers) {
      const free = freeSlots(worker);
      if (free > bestFree) {
        best = worker;
        bestFree = free;
      }
    }
    return best;
  }

  /**
   * The worker a new session binds to: the most free slots once its waiting session calls are
   * counted, then the fewest sessions (`sessionsOf`). Only workers that take calls are candidates.
   */
  bindTarget(sessionsOf: (worker: WorkerHandle) => number): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestScore = -Infinity;
    for (const worker of this.host.workers) {
      if (!worker.accepting) continue;
      const free = freeSlots(worker) - (this.sessionQueues.get(worker)?.length ?? 0);
      const score = free * 1e6 - sessionsOf(worker);
      if (score > bestScore) {
        best = worker;
        bestScore = score;
      }
    }
    return best;
  }

  /** Whether `worker` can take a call of a session now (a free slot, and no session call before it). */
  sessionCanRun(worker: WorkerHandle): boolean {
    return freeSlots(worker) > 0 && (this.sessionQueues.get(worker)?.length ?? 0) === 0;
  }

  /** The one `maxQueue` rule: the error a call that would wait is refused with, if it is. */
  saturated(call: T): PoolSaturatedError | undefined {
    const { maxQueue } = this.host.options;
    return this.queued >= maxQueue ? new PoolSaturatedError(maxQueue, { requestId: call.id }) : undefined;
  }

  // -------------------------------------------------------- calls of no session

  /** Place a call any worker may run: at once, in the shared room, or refused. */
  submit(call: T, onNestedBlocked: (call: T) => SnakepitError): void {
    if (this.room.length === 0 || call.nested) {
      const worker = this.leastLoaded();
      if (worker !== undefined) {
        this.host.dispatch(call, worker);
        return;
      }
    }
    if (call.nested) {
      call.fail(onNestedBlocked(call));
      return;
    }
    const full = this.saturated(call);
    if (full !== undefined) {
      call.fail(full);
      return;
    }
    this.room.push(call);
    call.armQueueTimeout(this.host.options.queueTimeout);
  }

  /** A call whose worker died is retried: it goes first. */
  requeueFirst(call: T): void {
    this.room.unshift(call);
  }

  // --------------------------------------------------------------- session calls

  /** Queue a session call for `worker` (undefined: for any worker to bind to). */
  enqueueSession(call: T, worker: WorkerHandle | undefined, armTimeout: boolean): void {
    const queue = worker === undefined ? this.unbound : this.sessionQueueOf(worker);
    queue.push(call);
    this.queuedIn.set(call, queue);
    this.sessionWaiting++;
    if (armTimeout) call.armQueueTimeout(this.host.options.queueTimeout);
  }

  /** Take the waiting session calls for `worker` (undefined: the unbound ones) out, in order. */
  takeSessionCalls(worker: WorkerHandle | undefined): T[] {
    const queue = worker === undefined ? this.unbound : this.sessionQueues.get(worker);
    if (worker !== undefined) this.sessionQueues.delete(worker);
    const calls: T[] = [];
    if (queue === undefined) return calls;
    for (let call = this.shiftSession(queue); call !== undefined; call = this.shiftSession(queue)) calls.push(call);
    return calls;
  }

  /** Fail the waiting session calls `match` picks, keeping the others in order. */
  failSessionCalls(workers: (WorkerHandle | undefined)[], match: (call: T) => boolean, error: () => SnakepitError): void {
    for (const worker of workers) {
      const queue = worker === undefined ? this.unbound : this.sessionQueues.get(worker);
      if (queue === undefined || queue.length === 0) continue;
      const kept: T[] = [];
      for (let call = this.shiftSession(queue); call !== undefined; call = this.shiftSession(queue)) {
        if (match(call)) call.fail(error());
        else kept.push(call);
      }
      for (const call of kept) this.enqueueSession(call, worker, false);
    }
  }

  private sessionQueueOf(worker: WorkerHandle): CallQueue<T> {
    let queue = this.sessionQueues.get(worker);
    if (queue === undefined) {
      queue = new CallQueue<T>();
      this.sessionQueues.set(worker, queue);
    }
    return queue;
  }

  private shiftSession(queue: CallQueue<T>): T | undefined {
    const call = queue.shift();
    if (call !== undefined) {
      this.queuedIn.delete(call);
      this.sessionWaiting--;
    }
    return call;
  }

  // ------------------------------------------------------------------- order

  /** A slot of `worker` is free: its session calls go first, then the shared room. */
  onSlotFree(worker: WorkerHandle): void {
    const queue = this.sessionQueues.get(worker);
    while (queue !== undefined && queue.length > 0 && freeSlots(worker) > 0) {
      const call = this.shiftSession(queue);
      if (call === undefined) break;
      if (!call.settled) this.host.placeSessionCall(call, worker);
    }
    this.pump();
  }

  /** Hand calls of the shared room to workers with free slots. */
  pump(): void {
    while (this.room.length > 0) {
      const worker = this.leastLoaded();
      if (worker === undefined) break;
      const unit = this.placement.take(this.room, freeSlots(worker));
      if (unit.length === 0) break;
      for (const call of unit) if (!call.settled) this.host.dispatch(call, worker);
    }
  }

  /** Take a call out of whichever queue holds it (aborted or timed out while waiting). */
  unqueue(call: T): boolean {
    const queue = this.queuedIn.get(call);
    if (queue !== undefined) {
      if (!queue.remove(call)) return false;
      this.queuedIn.delete(call);
      this.sessionWaiting--;
      return true;
    }
    return this.room.remove(call);
  }

  /** Fail every waiting call (pool destroyed, breaker open, nothing left to run them). */
  failAll(error: SnakepitError): void {
    for (const call of this.room.drain()) call.fail(error);
    for (const queue of [...this.sessionQueues.values(), this.unbound]) {
      for (let call = this.shiftSession(queue); call !== undefined; call = this.shiftSession(queue)) call.fail(error);
    }
  }
}
