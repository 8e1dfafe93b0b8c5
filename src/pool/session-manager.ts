/**
 * The calls of sessions. A session binds at its first call to the worker the scheduler picks; its
 * calls then run there only, waiting in that worker's session queue while it is busy (or failing with
 * SESSION_BUSY, or NESTED_CALL_BLOCKED for a call made from a host tool). When a worker exits, each of
 * its sessions with state is lost (or moves on, with `onLost: 'rebind'`); one whose calls never
 * reached the worker had no state there and simply binds again.
 *
 * Hooks for worker recycling: `hasLiveSessions(worker)` says whether recycling should wait, and
 * `loseSessions(worker, 'recycled')` ends the sessions explicitly when it will not wait any longer.
 */

import { nodeCrypto } from '../boot/crypto.js';
import {
  SessionBusyError,
  TooManySessionsError,
  type SessionLostReason,
  type SnakepitError,
} from '../errors.js';
import type { PoolState } from '../events.js';
import { type ResolvedPoolOptions } from '../options.js';
import { checkSessionOptions, type ExecuteOptions, type StreamOptions } from '../call-options.js';
import type { WorkerHandle } from '../worker/worker.js';
import type { Call } from './call.js';
import { nestedBlocked } from './host-tools.js';
import type { PythonCallHost } from './python-calls.js';
import type { Scheduler } from '../scheduling/scheduler.js';
import { SessionCore, type CallRoute, type Session } from './session.js';
import type { ToolStream } from './stream.js';

/** What the session layer needs from the pool (PoolCore). */
export interface SessionHost extends PythonCallHost {
  readonly options: ResolvedPoolOptions;
  readonly workers: readonly WorkerHandle[];
  readonly state: PoolState;
  /** The error new work is refused with in the pool's state, if it is (state.ts). */
  refusal(what: string): SnakepitError | undefined;
  readonly scheduler: Scheduler<Call>;
  dispatch(call: Call, worker: WorkerHandle): void;
  execute(tool: string, args: Record<string, unknown> | undefined, options: ExecuteOptions | undefined, route: CallRoute): Promise<unknown>;
  stream<T>(tool: string, args: Record<string, unknown> | undefined, options: StreamOptions | undefined, route: CallRoute): ToolStream<T>;
}

export class SessionManager {
  private readonly sessions = new Map<string, SessionCore>();
  private readonly bound = new Map<WorkerHandle, Set<SessionCore>>();

  constructor(readonly host: SessionHost) {}

  private get scheduler(): Scheduler<Call> {
    return this.host.scheduler;
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
    const refused = this.host.refusal('sessions');
    if (refused !== undefined) throw refused;
    if (id !== undefined) {
      const existing = this.sessions.get(id);
      if (existing !== undefined) return existing.face;
    }
    const { maxSessions } = this.host.options;
    if (this.sessions.size >= maxSessions) throw new TooManySessionsError(maxSessions);
    const session = new SessionCore(this, id ?? nodeCrypto().randomUUID(), resolved, isPrivate);
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

  /** Place a session call: on its worker now, in that worker's session queue, or refused. */
  submit(call: Call): void {
    this.route(call, true);
  }

  /** A session call left its worker's queue for a free slot (the scheduler's order). */
  placeQueued(call: Call, worker: WorkerHandle): void {
    if (call.session?.worker === worker && call.session.state === 'open') this.send(call, worker);
    else this.route(call, false);
  }

  private route(call: Call, fresh: boolean): void {
    const session = call.session!;
    const refusal = session.refusal();
    if (refusal !== undefined) {
      call.fail(refusal);
      return;
    }
    const worker = session.worker ?? this.bind(session);
    if (worker !== undefined && this.scheduler.sessionCanRun(worker)) {
      this.send(call, worker);
      return;
    }
    if (!fresh) {
      this.scheduler.enqueueSession(call, worker, false);
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
    const full = this.scheduler.saturated(call);
    if (full !== undefined) {
      call.fail(full);
      return;
    }
    this.scheduler.enqueueSession(call, worker, true);
  }

  private send(call: Call, worker: WorkerHandle): void {
    this.host.dispatch(call, worker);
    if (worker.pending.get(call.id) === call) call.session!.dispatched++;
  }

  /** Bind to the worker the scheduler picks (most free slots, then fewest sessions). */
  private bind(session: SessionCore): WorkerHandle | undefined {
    const best = this.scheduler.bindTarget((worker) => this.bound.get(worker)?.size ?? 0);
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
    const where = session.worker !== undefined ? [session.worker, undefined] : [undefined];
    this.scheduler.failSessionCalls(where, (call) => call.session === session, error);
  }

  // ------------------------------------------------------------ worker events

  /** A worker became ready: sessions waiting for one bind now, then its own queue runs. */
  onWorkerReady(worker: WorkerHandle): void {
    for (const call of this.scheduler.takeSessionCalls(undefined)) if (!call.settled) this.route(call, false);
    this.scheduler.onSlotFree(worker);
  }

  /** A worker exited: its sessions with state are lost (or rebound); their waiting calls follow. */
  onWorkerExit(worker: WorkerHandle): void {
    const sessions = this.bound.get(worker);
    this.bound.delete(worker);
    const waiting = this.scheduler.takeSessionCalls(worker);
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
    for (const call of waiting) if (!call.settled) this.route(call, false);
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

  /** The pool stops: every session ends with it. */
  closeAll(): void {
    for (const session of this.sessions.values()) session.abandon();
    this.sessions.clear();
    this.bound.clear();
  }
}
