/**
 * Keeps the pool's workers alive: one slot per configured worker, each refilled when its worker dies
 * (restart-policy.ts: backoff with jitter, crash-loop breaker, recovery after a stable period), and
 * a supervision tick that sends heartbeats, kills wedged workers and asks recycling (recycler.ts,
 * with drain) whether a worker is due. The pool (core.ts) tells it about worker exits, and the
 * recycler about settled calls; it tells the pool about new workers, state changes and events.
 *
 * Invariant: while the pool accepts calls (`ready` or `degraded`), every slot has a worker that is
 * ready or starting, or a restart scheduled. When the breaker opens the pool is `failed` and rejects
 * calls instead of queueing work it has no way to run.
 */

import { PoolClosedError, PoolFailedError, WorkerCrashedError, type SnakepitError } from '../errors.js';
import type { PoolEventMap, PoolState, WorkerExitReason } from '../events.js';
import type { ResolvedPoolOptions } from '../options.js';
import type { ExitInfo, WorkerHandle } from '../worker/worker.js';
import { Recycler } from './recycler.js';
import { RestartPolicy } from './restart-policy.js';
import { stateRule } from '../pool/state.js';

export interface SupervisorHost {
  readonly options: ResolvedPoolOptions;
  readonly workers: readonly WorkerHandle[];
  readonly state: PoolState;
  /** Calls waiting in the queue. */
  readonly queued: number;
  /** Create a worker (not yet started) and add it to the pool's list. */
  createWorker(): WorkerHandle;
  /** A worker became ready: learn its catalogue, announce it, give it queued calls. */
  workerReady(worker: WorkerHandle): void;
  setState(to: PoolState, reason?: string): void;
  publish<K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]): void;
  /** Reject every queued call with `error`. */
  failQueued(error: SnakepitError): void;
  /** Whether `worker` holds the state of an open session (recycling waits for those to end). */
  hasLiveSessions(worker: WorkerHandle): boolean;
  /** End `worker`'s sessions explicitly: they report SESSION_LOST with reason `recycled`. */
  loseSessions(worker: WorkerHandle): void;
}

type LaunchKind = 'initial' | 'restart' | 'recycle';

interface Slot {
  readonly index: number;
  /** The worker serving this slot (or starting to, for an initial start or a restart). */
  worker: WorkerHandle | undefined;
  /** A worker started to take over from `worker` (recycling). */
  successor: WorkerHandle | undefined;
  /** Consecutive failures of this slot. */
  streak: number;
  /** A restart waiting for its backoff. */
  timer: NodeJS.Timeout | undefined;
  /** When the slot lost its worker (performance.now()), 0 when it has one. */
  diedAt: number;
  replaces: number;
  delayMs: number;
  /**
   * Its first start is still to come or under way (`Pool.start` with `minReady` below `size` goes on
   * starting workers once it has resolved): the slot is not missing a worker, and nothing restarts it.
   */
  initial: boolean;
}

/** Exit reasons that count as failures for backoff and the breaker. */
const FAILURES: ReadonlySet<WorkerExitReason> = new Set<WorkerExitReason>(['crash', 'wedged', 'protocol-error']);

export class Supervisor {
  readonly policy: RestartPolicy;
  private readonly slots: Slot[];
  private readonly slotOf = new Map<WorkerHandle, Slot>();
  /** Recycling with drain (recycler.ts); the pool tells it about settled calls and MemoryErrors. */
  readonly recycler: Recycler;
  private tickTimer: NodeJS.Timeout | undefined;
  private recoverTimer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private stopped = false;
  /** Set while the breaker is open: the error new calls are rejected with. */
  failure: PoolFailedError | undefined;

  // counters for stats()
  restarts = 0;
  wedged = 0;
  breakerTrips = 0;

  constructor(private readonly host: SupervisorHost) {
    this.policy = new RestartPolicy(host.options.restart);
    this.slots = Array.from({ length: host.options.size }, (_, index) => ({
      index,
      worker: undefined,
      successor: undefined,
      streak: 0,
      timer: undefined,
      diedAt: 0,
      replaces: 0,
      delayMs: 0,
      initial: true,
    }));
    this.recycler = new Recycler(host, {
      serves: (worker) => this.slotOf.get(worker)?.worker === worker,
      startSuccessor: (worker) => {
        const slot = this.slotOf.get(worker)!;
        this.launch(slot, 'recycle').catch(() => {
          /* handled by onStartFailed */
        });
        return slot.successor;
      },
      updateHealth: () => this.updateHealth(),
    });
  }

  private get options(): ResolvedPoolOptions {
    return this.host.options;
  }

  /** True while lost workers should be replaced. */
  private get active(): boolean {
    if (this.stopped) return false;
    const { replaces } = stateRule(this.host.state);
    return replaces === 'always' || (replaces === 'whileQueued' && this.host.queued > 0);
  }

  // ------------------------------------------------------------------ startup

  /**
   * Start the worker of slot `index` for `Pool.start`; rejects with its WorkerStartError. Resolves
   * undefined, starting nothing, when the slot has been taken care of meanwhile (`endInitial`).
   */
  startInitial(index: number): Promise<WorkerHandle | undefined> {
    const slot = this.slots[index]!;
    if (!slot.initial || slot.worker !== undefined || slot.timer !== undefined) return Promise.resolve(undefined);
    return this.launch(slot, 'initial');
  }

  /**
   * `Pool.start` has launched every first start it will (all of them, or fewer when the pool stopped
   * accepting work meanwhile): a slot left without a worker is restarted like any other.
   */
  endInitial(): void {
    if (this.stopped || this.host.state === 'starting' || this.host.state === 'closed') return; // the start failed
    for (const slot of this.slots) {
      if (!slot.initial) continue;
      slot.initial = false;
      this.refill(slot);
    }
    this.updateHealth();
  }

  /** Begin the supervision tick (heartbeats, ttl, rss), once the pool is ready. */
  begin(): void {
    const interval = this.tickInterval();
    this.lastTick = performance.now();
    this.tickTimer = setInterval(() => this.tick(), interval);
    this.tickTimer.unref();
    // A worker that died while the others were starting left its slot empty (slots whose first start
    // is still to come are left to Pool.start).
    for (const slot of this.slots) this.refill(slot);
    this.updateHealth();
  }

  private tickInterval(): number {
    const { heartbeatInterval } = this.options;
    return heartbeatInterval > 0 ? heartbeatInterval : 1_000;
  }

  private launch(slot: Slot, kind: LaunchKind): Promise<WorkerHandle> {
    const worker = this.host.createWorker();
    this.slotOf.set(worker, slot);
    if (kind === 'recycle') slot.successor = worker;
    else slot.worker = worker;
    return worker.start().then(
      () => {
        this.onReady(worker, slot, kind);
        return worker;
      },
      (err: SnakepitError) => {
        this.onStartFailed(worker, slot, kind, err);
        throw err;
      },
    );
  }

  private onReady(worker: WorkerHandle, slot: Slot, kind: LaunchKind): void {
    if (this.stopped || this.host.state === 'closed') {
      if (kind === 'recycle') this.recycler.successorFailed(worker, new PoolClosedError('the pool closed before the replacement took over'));
      void worker.kill('killed');
      return;
    }
    if (kind === 'initial') slot.initial = false;
    let old: WorkerHandle | undefined;
    if (kind === 'recycle') {
      slot.successor = undefined;
      old = slot.worker;
      slot.worker = worker;
    }
    this.host.workerReady(worker);
    this.recycler.onReady(worker, old);
    if (kind === 'restart') {
      this.restarts++;
      const now = performance.now();
      this.host.publish('workerRestart', {
        type: 'workerRestart',
        workerId: worker.id,
        pid: worker.pid!,
        replaces: slot.replaces,
        attempt: slot.streak,
        delayMs: slot.delayMs,
        downtimeMs: Math.round(slot.diedAt > 0 ? now - slot.diedAt : 0),
      });
    }
    slot.diedAt = 0;
    this.updateHealth();
    if (this.host.state === 'failed') this.armRecovery();
  }

  private onStartFailed(worker: WorkerHandle, slot: Slot, kind: LaunchKind, err: SnakepitError): void {
    if (kind === 'recycle') this.recycler.successorFailed(worker, err); // whoever waits for the recycling
    // A first start that fails while Pool.start still waits fails the start; one that fails after it
    // resolved (minReady) is a failure like any restart's.
    if (kind === 'initial') slot.initial = false;
    if ((kind === 'initial' && this.host.state === 'starting') || this.stopped || this.host.state === 'closed') {
      if (slot.worker === worker) slot.worker = undefined;
      if (slot.successor === worker) slot.successor = undefined;
      return;
    }
    const now = performance.now();
    if (kind === 'recycle') {
      slot.successor = undefined;
      const old = slot.worker;
      if (old !== undefined && old.state !== 'exited') {
        // The old worker keeps serving; recycling is tried again later (recycler.ts).
        slot.streak++;
        if (this.policy.recordFailure(now)) this.trip(err);
        this.updateHealth();
        return;
      }
    } else if (slot.worker === worker) {
      slot.worker = undefined;
    }
    slot.streak++;
    const open = this.policy.recordFailure(now);
    if (open && this.host.state !== 'failed') this.trip(err);
    if (slot.diedAt === 0) slot.diedAt = now;
    this.scheduleRestart(slot, this.restartDelay(slot), slot.replaces || worker.id);
    this.updateHealth();
  }

  // -------------------------------------------------------------- worker exits

  /** A worker exited (it is already out of the pool's list). */
  onExit(worker: WorkerHandle, info: ExitInfo): void {
    const slot = this.slotOf.get(worker);
    this.slotOf.delete(worker);
    this.recycler.onExit(worker);
    if (slot === undefined || slot.successor === worker || slot.worker !== worker) {
      this.updateHealth();
      return;
    }
    slot.worker = undefined;
    // A worker that never became ready is handled by onStartFailed.
    if (worker.readyAt === 0) return;
    const now = performance.now();
    if (slot.diedAt === 0) slot.diedAt = now;
    if (!this.active) {
      this.updateHealth();
      return;
    }
    // A worker that died with its sandboxed zygote did not fail: the fork server's breaker counts
    // the zygote's death once, and the replacement waits for a new zygote.
    const failure = FAILURES.has(info.reason) && info.withZygote !== true;
    if (failure) {
      slot.streak = this.policy.nextStreak(slot.streak, now - worker.readyAt);
      if (info.reason === 'wedged') this.wedged++;
      const open = this.policy.recordFailure(now);
      if (open && this.host.state !== 'failed') {
        const what = info.signal ? `was killed by ${info.signal}` : `exited (${info.reason}, code ${info.code})`;
        this.trip(new WorkerCrashedError(`worker ${worker.id} (pid ${worker.pid}) ${what}`, { workerId: worker.id, pid: worker.pid }));
      }
    }
    // A replacement already starting for recycling takes the slot. Otherwise restart: with backoff
    // after a failure; at once after a deliberate exit (a call ignored cancellation).
    if (slot.successor === undefined) this.scheduleRestart(slot, failure ? this.restartDelay(slot) : 0, worker.id);
    this.updateHealth();
  }

  private restartDelay(slot: Slot): number {
    return this.host.state === 'failed' ? this.policy.probeDelay() : this.policy.delay(slot.streak);
  }

  /** Start a worker at once in `slot` if it has none coming (a slot on its first start is Pool.start's). */
  private refill(slot: Slot): void {
    if (!slot.initial && slot.worker === undefined && slot.successor === undefined) this.scheduleRestart(slot, 0, slot.replaces);
  }

  private scheduleRestart(slot: Slot, delay: number, replaces: number): void {
    if (slot.timer !== undefined || slot.worker !== undefined) return;
    slot.replaces = replaces;
    slot.delayMs = delay;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (!this.active || slot.worker !== undefined) return;
      this.launch(slot, 'restart').catch(() => {
        /* counted and rescheduled by onStartFailed */
      });
    }, delay);
    // Probes of a failed pool never keep the host alive; a restart that queued calls wait for does.
    if (this.host.state === 'failed') slot.timer.unref();
  }

  /** True while a replacement is scheduled or starting: queued calls still have a way to run. */
  restartPending(): boolean {
    return this.slots.some((s) => s.timer !== undefined) || this.host.workers.some((w) => w.state === 'starting');
  }

  /** Slots waiting for a restart. */
  get pendingRestarts(): number {
    let n = 0;
    for (const s of this.slots) if (s.timer !== undefined) n++;
    return n;
  }

  // ------------------------------------------------------------ breaker, health

  private trip(cause: SnakepitError): void {
    const { maxFailures, window } = this.options.restart;
    this.breakerTrips++;
    this.failure = new PoolFailedError(
      `pool failed: ${maxFailures} worker failures within ${window} ms (options.restart.maxFailures); ` +
        `new calls are rejected until it recovers. Last failure: ${cause.message}`,
      { cause },
    );
    this.host.setState('failed', `crash loop: ${maxFailures} failures within ${window} ms`);
    this.host.failQueued(this.failure);
    // Pending restarts become probes at the breaker's pace.
    for (const slot of this.slots) {
      if (slot.timer === undefined) continue;
      clearTimeout(slot.timer);
      slot.timer = undefined;
      this.scheduleRestart(slot, this.policy.probeDelay(), slot.replaces);
    }
    this.armRecovery();
  }

  private armRecovery(): void {
    if (this.recoverTimer !== undefined || this.stopped) return;
    const every = Math.max(25, Math.min(1_000, Math.floor(this.options.restart.stableAfter / 4)));
    this.recoverTimer = setInterval(() => this.checkRecovery(), every);
    this.recoverTimer.unref();
  }

  private checkRecovery(): void {
    if (this.host.state !== 'failed' || this.stopped) {
      if (this.recoverTimer !== undefined) clearInterval(this.recoverTimer);
      this.recoverTimer = undefined;
      return;
    }
    const now = performance.now();
    const { stableAfter } = this.options.restart;
    if (!this.policy.quietSince(now)) return;
    const stable = this.host.workers.some((w) => w.state === 'ready' && !w.retiring && now - w.readyAt >= stableAfter);
    if (!stable) return;
    clearInterval(this.recoverTimer);
    this.recoverTimer = undefined;
    this.policy.reset();
    this.failure = undefined;
    for (const slot of this.slots) {
      slot.streak = 0;
      if (slot.timer !== undefined) {
        clearTimeout(slot.timer);
        slot.timer = undefined;
      }
    }
    this.host.setState(this.healthy() ? 'ready' : 'degraded', 'recovered');
    for (const slot of this.slots) this.refill(slot);
  }

  /** Workers that take calls. */
  serving(): number {
    let n = 0;
    for (const w of this.host.workers) if (w.state === 'ready' && !w.retiring) n++;
    return n;
  }

  private updateHealth(): void {
    const s = this.host.state;
    if (!stateRule(s).accepts) return;
    this.host.setState(this.healthy() ? 'ready' : 'degraded');
  }

  /** Every slot has a worker that takes calls, or is on its first start (minReady). */
  private healthy(): boolean {
    let warming = 0;
    for (const slot of this.slots) if (slot.initial) warming++;
    return this.serving() + warming >= this.options.size;
  }

  // ---------------------------------------------------------------- the tick

  private tick(): void {
    if (this.stopped) return;
    const now = performance.now();
    const interval = this.tickInterval();
    // A host whose event loop was blocked cannot tell a slow worker from a wedged one this time.
    const stalled = now - this.lastTick > 2 * interval + 1_000;
    this.lastTick = now;
    const { heartbeatInterval, heartbeatTimeout } = this.options;
    const accepting = stateRule(this.host.state).replaces === 'always';
    for (const worker of [...this.host.workers]) {
      if (worker.state !== 'ready') continue;
      if (heartbeatInterval > 0) {
        if (stalled) worker.heartbeat.forgive(now);
        const waited = worker.heartbeat.waiting(now);
        if (waited > heartbeatTimeout) {
          this.killWedged(worker, waited);
          continue;
        }
        worker.ping(now);
      }
      if (accepting) this.recycler.check(worker, now);
    }
  }

  private killWedged(worker: WorkerHandle, waited: number): void {
    const error = new WorkerCrashedError(
      `worker ${worker.id} (pid ${worker.pid}) answered no heartbeat for ${Math.round(waited)} ms ` +
        `(heartbeatTimeout ${this.options.heartbeatTimeout}); it was killed as wedged`,
      { workerId: worker.id, pid: worker.pid, stderrTail: worker.stderr },
    );
    void worker.kill('wedged', error);
  }

  // ---------------------------------------------------------------- stopping

  stop(): void {
    this.stopped = true;
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    if (this.recoverTimer !== undefined) clearInterval(this.recoverTimer);
    this.tickTimer = this.recoverTimer = undefined;
    for (const slot of this.slots) {
      if (slot.timer !== undefined) clearTimeout(slot.timer);
      slot.timer = undefined;
    }
  }
}
