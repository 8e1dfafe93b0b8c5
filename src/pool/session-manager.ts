/**
 * Places the calls of sessions. A session binds at its first call to the least-loaded ready worker;
 * its calls then run there only, waiting in that worker's own queue while it is busy (or failing with
 * SESSION_BUSY, or NESTED_CALL_BLOCKED for a call made from a host tool). When a worker exits, each of
 * its sessions with state is lost (or moves on, with `onLost: 'rebind'`); one whose calls never
 * reached the worker had no state there and simply binds again.
 *
 * Hooks for worker recycling: `hasLiveSessions(worker)` says whether recycling should wait, and
 * `loseSessions(worker, 'recycled')` ends the sessions explicitly when it will not wait any longer.
 */

import { randomUUID } from 'node:crypto';
import {
  PoolClosedError,
  PoolSaturatedError,
  SessionBusyError,
  TooManySessionsError,
  type SessionLostReason,
  type SnakepitError,
} from '../errors.js';
import type { PoolState } from '../events.js';
import { checkSessionOptions, type ExecuteOptions, type ResolvedPoolOptions, type StreamOptions } from '../options.js';
import type { WorkerHandle } from '../worker/worker.js';
import type { Call } from './call.js';
import { nestedBlocked } from './host-tools.js';
import type { PythonCallHost } from './python-calls.js';
import { CallQueue } from './queue.js';
import { SessionCore, type CallRoute, type Session } from './session.js';
import type { ToolStream } from './stream.js';

/** What the session layer needs from the pool (PoolCore). */
export interface SessionHost extends PythonCallHost {
  readonly options: ResolvedPoolOptions;
  readonly workers: readonly WorkerHandle[];
  readonly state: PoolState;
  /** Calls waiting in the pool's shared queue. */
  readonly queuedCalls: number;
  dispatch(call: Call, worker: WorkerHandle): void;
  execute(tool: string, args: Record<string, unknown> | undefined, options: ExecuteOptions | undefined, route: CallRoute): Promise<unknown>;
  stream<T>(tool: string, args: Record<string, unknown> | undefined, options: StreamOptions | undefined, route: CallRoute): ToolStream<T>;
}

export class SessionManager {
  private readonly sessions = new Map<string, SessionCore>();
  private readonly bound = new Map<WorkerHandle, Set<SessionCore>>();
  private readonly queues = new Map<WorkerHandle, CallQueue<Call>>();
  /** Calls of sessions that wait for any worker to be ready. */
  private readonly unbound = new CallQueue<Call>();
  private readonly queuedIn = new WeakMap<Call, CallQueue<Call>>();
  private waiting = 0;

  constructor(readonly host: SessionHost) {}

  /** Session calls waiting for their worker (or for any worker). */
  get queued(): number {
    return this.waiting;
  }

  /** Sessions in the registry (open, and lost ones not yet closed or expired). */
  get size(): number {
    return this.sessions.size;
  }

  /** The open sessions, for the dashboard: id, worker and age in ms (private ones left out). */
  list(): { id: string; workerId: number | undefined; pid: number | undefined; ageMs: number }[] {
    const now = performance.now();
    return [...this.sessions.values()]
      .filter((s) => !s.isPrivate)
      .map((s) => ({ id: s.id, workerId: s.worker?.id, pid: s.worker?.pid, ageMs: Math.round(now - s.createdAt) }));
  }

  open(id: string | undefined, options: unknown, isPrivate = false): Session {
    const resolved = checkSessionOptions(id, options);
    const state = this.host.state;
    if (state !== 'ready') throw new PoolClosedError(`pool is ${state}; no new sessions are opened`);
    if (id !== undefined) {
      const existing = this.sessions.get(id);
      if (existing !== undefined) return existing.face;
    }
    const { maxSessions } = this.host.options;
    if (this.sessions.size >= maxSessions) throw new TooManySessionsError(maxSessions);
    const session = new SessionCore(this, id ?? randomUUID(), resolved, isPrivate);
    this.sessions.set(session.id, session);
    return session.face;
  }

  /** A private session for `pool.python.create`: it ends when its last handle goes. */
  openPrivate(): SessionCore {
    return this.core(this.open(undefined, undefined, true));
  }

  private core(face: Session): SessionCore {
    return this.sessions.get(face.id)!;
  }

  forget(session: SessionCore): void {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
  }

  // ------------------------------------------------------------------ placing

  /** Place a session call: on its worker now, in that worker's queue, or refused. */
  submit(call: Call): void {
    this.route(call, true);
  }

  private route(call: Call, fresh: boolean): void {
    const session = call.session!;
    const refusal = session.refusal();
    if (refusal !== undefined) {
      call.fail(refusal);
      return;
    }
    const worker = session.worker ?? this.bind(session);
    const queue = worker === undefined ? this.unbound : this.queueOf(worker);
    if (worker !== undefined && worker.free > 0 && queue.length === 0) {
      this.send(call, worker);
      return;
    }
    if (!fresh) {
      this.push(queue, call);
      return;
    }
    const where = worker === undefined ? 'any worker (none is ready)' : `worker ${worker.id}, which holds session ${JSON.stringify(session.id)}`;
    if (call.nested) {
      call.fail(nestedBlocked(call.tool, where, { requestId: call.id, workerId: worker?.id }));
      return;
    }
    if (session.options.busy === 'fail') {
      call.fail(new SessionBusyError(session.id, { tool: call.tool, requestId: call.id, workerId: worker?.id }));
      return;
    }
    const { maxQueue, queueTimeout } = this.host.options;
    if (this.waiting + this.host.queuedCalls >= maxQueue) {
      call.fail(new PoolSaturatedError(maxQueue, { requestId: call.id }));
      return;
    }
    this.push(queue, call);
    call.armQueueTimeout(queueTimeout);
  }

  private send(call: Call, worker: WorkerHandle): void {
    this.host.dispatch(call, worker);
    if (worker.pending.get(call.id) === call) call.session!.dispatched++;
  }

  private push(queue: CallQueue<Call>, call: Call): void {
    queue.push(call);
    this.queuedIn.set(call, queue);
    this.waiting++;
  }

  private shift(queue: CallQueue<Call>): Call | undefined {
    const call = queue.shift();
    if (call !== undefined) {
      this.queuedIn.delete(call);
      this.waiting--;
    }
    return call;
  }

  unqueue(call: Call): boolean {
    const queue = this.queuedIn.get(call);
    if (queue === undefined || !queue.remove(call)) return false;
    this.queuedIn.delete(call);
    this.waiting--;
    return true;
  }

  private queueOf(worker: WorkerHandle): CallQueue<Call> {
    let queue = this.queues.get(worker);
    if (queue === undefined) {
      queue = new CallQueue<Call>();
      this.queues.set(worker, queue);
    }
    return queue;
  }

  /** Bind to the ready worker with the most free slots (then the fewest sessions). */
  private bind(session: SessionCore): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestScore = -Infinity;
    for (const worker of this.host.workers) {
      if (worker.state !== 'ready') continue;
      const free = worker.concurrency - worker.pending.size - (this.queues.get(worker)?.length ?? 0);
      const score = free * 1e6 - (this.bound.get(worker)?.size ?? 0);
      if (score > bestScore) {
        best = worker;
        bestScore = score;
      }
    }
    if (best === undefined) return undefined;
    session.worker = best;
    session.dispatched = 0;
    let set = this.bound.get(best);
    if (set === undefined) {
      set = new Set();
      this.bound.set(best, set);
    }
    set.add(session);
    return best;
  }

  unbind(session: SessionCore): void {
    const worker = session.worker;
    if (worker !== undefined) this.bound.get(worker)?.delete(session);
  }

  /** Fail the waiting calls of `session` (lost or closed), keeping the others in order. */
  failQueued(session: SessionCore, error: () => SnakepitError): void {
    const queues = session.worker !== undefined ? [this.queues.get(session.worker), this.unbound] : [this.unbound];
    for (const queue of queues) {
      if (queue === undefined || queue.length === 0) continue;
      const kept: Call[] = [];
      for (let call = this.shift(queue); call !== undefined; call = this.shift(queue)) {
        if (call.session === session) call.fail(error());
        else kept.push(call);
      }
      for (const call of kept) this.push(queue, call);
    }
  }

  // ------------------------------------------------------------ worker events

  /** A slot of `worker` is free: its session calls go first. */
  onSlotFree(worker: WorkerHandle): void {
    const queue = this.queues.get(worker);
    while (queue !== undefined && queue.length > 0 && worker.free > 0) {
      const call = this.shift(queue);
      if (call === undefined) break;
      if (call.settled) continue;
      if (call.session?.worker === worker && call.session.state === 'open') this.send(call, worker);
      else this.route(call, false);
    }
  }

  /** A worker became ready: sessions waiting for one bind now. */
  onWorkerReady(worker: WorkerHandle): void {
    if (this.unbound.length > 0) {
      const calls: Call[] = [];
      for (let call = this.shift(this.unbound); call !== undefined; call = this.shift(this.unbound)) calls.push(call);
      for (const call of calls) if (!call.settled) this.route(call, false);
    }
    this.onSlotFree(worker);
  }

  /** A worker exited: its sessions with state are lost (or rebound); their waiting calls follow. */
  onWorkerExit(worker: WorkerHandle): void {
    const sessions = this.bound.get(worker);
    this.bound.delete(worker);
    const queue = this.queues.get(worker);
    this.queues.delete(worker);
    for (const session of sessions ?? []) {
      if (session.state !== 'open' || session.worker !== worker) continue;
      if (session.dispatched === 0 || session.options.onLost === 'rebind') {
        session.rebind();
      } else {
        session.markLost(
          'worker-exit',
          `the worker of session ${JSON.stringify(session.id)} (pid ${worker.pid}) exited; its state is lost`,
        );
      }
    }
    if (queue !== undefined) {
      const calls: Call[] = [];
      for (let call = this.shift(queue); call !== undefined; call = this.shift(queue)) calls.push(call);
      for (const call of calls) if (!call.settled) this.route(call, false);
    }
  }

  // --------------------------------------------------------- recycling hooks

  /** Whether `worker` holds the state of open sessions (recycling should wait for them). */
  hasLiveSessions(worker: WorkerHandle): boolean {
    for (const session of this.bound.get(worker) ?? []) {
      if (session.state === 'open' && session.dispatched > 0) return true;
    }
    return false;
  }

  /** End the sessions of `worker` explicitly (recycling will not wait longer); returns how many. */
  loseSessions(worker: WorkerHandle, reason: SessionLostReason): number {
    let lost = 0;
    for (const session of [...(this.bound.get(worker) ?? [])]) {
      if (session.state !== 'open') continue;
      if (session.dispatched === 0) {
        this.unbind(session);
        session.rebind();
        continue;
      }
      session.sendEnd();
      session.markLost(reason, `session ${JSON.stringify(session.id)} ended because its worker ${worker.id} was ${reason}`);
      lost++;
    }
    return lost;
  }

  // ----------------------------------------------------------------- stopping

  /** Fail every waiting session call (pool destroyed, or no worker left to run them). */
  failAllQueued(error: SnakepitError): void {
    for (const queue of [...this.queues.values(), this.unbound]) {
      for (let call = this.shift(queue); call !== undefined; call = this.shift(queue)) call.fail(error);
    }
  }

  /** The pool stops: every session ends with it. */
  closeAll(): void {
    for (const session of this.sessions.values()) session.abandon();
    this.sessions.clear();
    this.bound.clear();
  }
}
