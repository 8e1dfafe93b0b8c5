/**
 * Recycling with drain: a healthy worker due for replacement (recycle.ts says when: maxRequests, ttl,
 * rss, a MemoryError, or `pool.recycle(id)`) gets a successor started in its slot first; it stops
 * taking calls at once if another worker serves, otherwise once the successor is ready; it finishes
 * its calls and is then shut down. Automatic recycling waits for the worker's sessions, at most
 * `recycleWait`. The supervisor (supervisor.ts) owns the slots and tells this file when a successor
 * is ready or failed to start and when a worker exited; its tick asks `check` of each ready worker.
 */

import { InvalidArgumentsError } from '../errors.js';
import type { RecycleReason } from '../events.js';
import type { ResolvedPoolOptions } from '../options.js';
import type { WorkerHandle } from '../worker/worker.js';
import { recycleDue, ttlDeadline } from './recycle.js';
import type { SupervisorHost } from './supervisor.js';
import { stateRule } from '../pool/state.js';

/** What recycling needs of the supervisor's slots. */
export interface RecyclerSlots {
  /** Whether `worker` is the worker serving its slot (not a successor, not one being replaced). */
  serves(worker: WorkerHandle): boolean;
  /** Start a successor in the slot `worker` serves; it takes the slot once ready. */
  startSuccessor(worker: WorkerHandle): WorkerHandle | undefined;
  /** The pool is `ready` or `degraded` by the workers that take calls. */
  updateHealth(): void;
}

interface Recycling {
  reason: RecycleReason;
  waiters: { resolve: () => void; reject: (err: Error) => void }[];
  /** The successor is ready (or none was started): the recycling is over once the old worker exits. */
  successorReady: boolean;
  /** The old worker has exited: the recycling is over once the successor is ready. */
  exited: boolean;
}

export class Recycler {
  private readonly recycling = new Map<WorkerHandle, Recycling>();
  /** The worker each successor is replacing (its slot may have let go of it when it exited first). */
  private readonly replacing = new WeakMap<WorkerHandle, WorkerHandle>();
  private readonly ttlAt = new WeakMap<WorkerHandle, number>();
  /** Workers to recycle after a MemoryError once their replacement can be started. */
  private readonly memoryPending = new WeakSet<WorkerHandle>();
  /** When automatic recycling of a worker first had to wait for its sessions (performance.now()). */
  private readonly sessionWaitSince = new WeakMap<WorkerHandle, number>();
  /** Recyclings begun (stats). */
  recycles = 0;

  constructor(
    private readonly host: SupervisorHost,
    private readonly slots: RecyclerSlots,
  ) {}

  private get options(): ResolvedPoolOptions {
    return this.host.options;
  }

  // ------------------------------------------------------- told by the supervisor

  /** `worker` is ready (a successor of `old` when recycling): set its ttl, retire whom it replaces. */
  onReady(worker: WorkerHandle, old: WorkerHandle | undefined): void {
    this.ttlAt.set(worker, ttlDeadline(worker.readyAt, this.options.ttl));
    if (old !== undefined && old.state !== 'exited' && !old.retiring) this.retire(old);
    const replaced = this.replacing.get(worker);
    const entry = replaced === undefined ? undefined : this.recycling.get(replaced);
    if (entry !== undefined) {
      entry.successorReady = true;
      if (entry.exited) this.finish(replaced!);
    }
    // Workers due for recycling kept serving only because nobody else did: now someone does.
    for (const due of this.recycling.keys()) {
      if (due !== worker && due.state === 'ready' && !due.retiring) this.retire(due);
    }
  }

  /**
   * `successor` could not start (or the pool closed first): whoever waits for the recycling hears of
   * it. An old worker still running keeps serving; recycling is tried again at a later tick (ttl, rss,
   * maxRequests and MemoryError) or by the caller (manual). One that exited meanwhile (it had drained
   * while another worker served) leaves its slot to the supervisor's restart.
   */
  successorFailed(successor: WorkerHandle, err: Error): void {
    const old = this.replacing.get(successor);
    if (old === undefined) return;
    this.replacing.delete(successor);
    const entry = this.recycling.get(old);
    this.recycling.delete(old);
    if (old.state !== 'exited') {
      if (entry?.reason === 'memory') this.memoryPending.add(old);
      old.retiring = false;
    }
    for (const w of entry?.waiters ?? []) w.reject(err);
  }

  /** `worker` exited: a recycling of it is over, unless its successor is still starting. */
  onExit(worker: WorkerHandle): void {
    const entry = this.recycling.get(worker);
    if (entry === undefined) return;
    entry.exited = true;
    if (entry.successorReady) this.finish(worker);
  }

  private finish(old: WorkerHandle): void {
    const entry = this.recycling.get(old);
    this.recycling.delete(old);
    for (const w of entry?.waiters ?? []) w.resolve();
  }

  /** The tick, for a ready worker of a pool that takes calls: is it due (MemoryError, ttl, rss...)? */
  check(worker: WorkerHandle, now: number): void {
    if (worker.retiring || this.recycling.has(worker)) return;
    if (this.memoryPending.has(worker)) {
      if (!this.sessionsAllowRecycle(worker, now)) return;
      this.memoryPending.delete(worker);
      this.recycle(worker, 'memory').catch(() => {});
      return;
    }
    const due = recycleDue(worker, this.options, this.ttlAt.get(worker) ?? Infinity, now);
    if (due !== undefined && this.sessionsAllowRecycle(worker, now)) this.recycle(worker, due).catch(() => {});
  }

  // ------------------------------------------------------------- told by the pool

  /** A call left `worker`: shut a drained retiring worker down; recycle after `maxRequests`. */
  afterSettle(worker: WorkerHandle): void {
    if (worker.state !== 'ready') return;
    if (worker.retiring) {
      if (worker.pending.size === 0) void worker.shutdown('recycled');
      return;
    }
    const { maxRequests } = this.options;
    if (maxRequests > 0 && worker.completed >= maxRequests && !this.recycling.has(worker)) {
      if (this.sessionsAllowRecycle(worker, performance.now())) this.recycle(worker, 'maxRequests').catch(() => {});
    }
  }

  /** The worker raised MemoryError in a tool: replace it once the call is answered. */
  onMemoryError(worker: WorkerHandle | undefined): void {
    if (worker === undefined || worker.state !== 'ready' || this.recycling.has(worker)) return;
    if (!this.sessionsAllowRecycle(worker, performance.now())) {
      this.memoryPending.add(worker); // the tick retries once the sessions end or the wait is over
      return;
    }
    this.recycle(worker, 'memory').catch(() => {});
  }

  /**
   * Automatic recycling waits while `worker` holds live sessions, at most `recycleWait` ms from when
   * it first became due; then the sessions are lost explicitly (SESSION_LOST, reason `recycled`)
   * and the recycling goes ahead. Never a silent move of a session to a worker without its state.
   */
  private sessionsAllowRecycle(worker: WorkerHandle, now: number): boolean {
    if (!this.host.hasLiveSessions(worker)) {
      this.sessionWaitSince.delete(worker);
      return true;
    }
    const since = this.sessionWaitSince.get(worker) ?? now;
    this.sessionWaitSince.set(worker, since);
    if (now - since < this.options.recycleWait) return false;
    this.sessionWaitSince.delete(worker);
    this.host.loseSessions(worker);
    return true;
  }

  /** `pool.recycle(id)`: asked for explicitly, the worker's sessions end now (SESSION_LOST, 'recycled'). */
  recycleById(workerId: number): Promise<void> {
    const worker = this.host.workers.find((w) => w.id === workerId);
    if (worker === undefined) {
      const ids = this.host.workers.map((w) => w.id).join(', ') || '(none)';
      return Promise.reject(new InvalidArgumentsError(`no worker with id ${String(workerId)} (workers: ${ids})`));
    }
    this.host.loseSessions(worker);
    return this.recycle(worker, 'manual');
  }

  /**
   * Replace `worker` by a fresh one with drain. Resolves once the old worker has exited and its
   * replacement is ready, in whichever order; rejects if the replacement could not start (the old
   * worker then keeps serving, unless it had already drained and exited while others served).
   */
  recycle(worker: WorkerHandle, reason: RecycleReason): Promise<void> {
    if (worker.state === 'exited') return Promise.resolve();
    const existing = this.recycling.get(worker);
    const accepting = stateRule(this.host.state).replaces === 'always';
    if (existing === undefined && (worker.state !== 'ready' || !this.slots.serves(worker) || !accepting)) {
      // Already stopping, or the pool is draining: the worker goes away anyway.
      return worker.whenExited().then(() => undefined);
    }
    return new Promise<void>((resolve, reject) => {
      if (existing !== undefined) {
        existing.waiters.push({ resolve, reject });
        return;
      }
      const entry: Recycling = { reason, waiters: [{ resolve, reject }], successorReady: false, exited: false };
      this.recycling.set(worker, entry);
      this.recycles++;
      const othersServe = this.host.workers.some((w) => w !== worker && w.state === 'ready' && !w.retiring);
      if (othersServe) this.retire(worker);
      const successor = this.slots.startSuccessor(worker);
      if (successor === undefined) entry.successorReady = true;
      else this.replacing.set(successor, worker);
      this.host.publish('workerRecycle', {
        type: 'workerRecycle',
        workerId: worker.id,
        pid: worker.pid,
        reason,
        replacementId: successor?.id,
      });
    });
  }

  /** Stop giving `worker` calls; shut it down once its calls are done. */
  private retire(worker: WorkerHandle): void {
    worker.retiring = true;
    this.slots.updateHealth();
    if (worker.pending.size === 0 && worker.state === 'ready') void worker.shutdown('recycled');
  }
}
