/**
 * The chaos suite's bookkeeping. Each scenario keeps a ledger of the calls it submitted (ok, failed by
 * typed code, untyped, hung, lost) and the figures it measured, and saves them to
 * test/chaos/results/<id>.json; test/chaos/report.ts prints and stores the combined report.
 */

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, SnakepitError, type Pool } from '../../src/index.js';
import { unwrapSandbox } from '../../src/worker/procfs.js';
import { ROOT, START_METHOD, TEST_SANDBOX } from '../helpers.js';

export const RESULTS = path.join(ROOT, 'test', 'chaos', 'results');

let unhandled = 0;
process.on('unhandledRejection', (reason) => {
  unhandled++;
  process.stderr.write(`chaos: unhandled rejection: ${String(reason)}\n`);
});

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]! * 10) / 10;
}

/** Count, p50, p99 and the rounded samples of a list of durations. */
function summarise(values: readonly number[]): { count: number; p50: number | null; p99: number | null; samples: number[] } {
  return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99), samples: values.map(Math.round) };
}

export interface TrackOptions<T> {
  /** Milliseconds after which an unsettled call counts as hung: deadline + grace + margin. */
  limitMs: number;
  /** A result that fails this check counts as lost (the caller got something that is not its answer). */
  check?: (value: T) => boolean;
}

interface Entry {
  started: number;
  limitMs: number;
  settled: boolean;
  counted: boolean;
  promise: Promise<unknown>;
}

export class Ledger {
  submitted = 0;
  ok = 0;
  lost = 0;
  untyped = 0;
  hung = 0;
  readonly failedByCode: Record<string, number> = {};
  private readonly entries = new Set<Entry>();

  get failed(): number {
    return Object.values(this.failedByCode).reduce((a, b) => a + b, 0);
  }

  /** Track one call; resolves with its value, or undefined when it failed (never rejects). */
  track<T>(promise: Promise<T>, options: TrackOptions<T>): Promise<{ value?: T; error?: SnakepitError }> {
    this.submitted++;
    const entry: Entry = { started: performance.now(), limitMs: options.limitMs, settled: false, counted: false, promise };
    this.entries.add(entry);
    const settled = promise.then(
      (value) => {
        entry.settled = true;
        if (!entry.counted) {
          entry.counted = true;
          if (options.check && !options.check(value)) this.lost++;
          else this.ok++;
        }
        this.entries.delete(entry);
        return { value };
      },
      (err: unknown) => {
        entry.settled = true;
        const typed = err instanceof SnakepitError && (ERROR_CODES as readonly string[]).includes(err.code);
        if (!entry.counted) {
          entry.counted = true;
          if (typed) this.failedByCode[err.code] = (this.failedByCode[err.code] ?? 0) + 1;
          else this.untyped++;
        }
        this.entries.delete(entry);
        return { error: typed ? err : undefined };
      },
    );
    entry.promise = settled;
    return settled;
  }

  /** Wait for every tracked call up to its limit; those still unsettled then are hung. */
  async drain(): Promise<void> {
    for (const entry of [...this.entries]) {
      const left = entry.started + entry.limitMs - performance.now();
      if (left > 0) {
        await Promise.race([entry.promise, new Promise((r) => setTimeout(r, left).unref())]);
      }
      if (!entry.settled && !entry.counted) {
        entry.counted = true;
        this.hung++;
      }
    }
  }

  /** The ledger balances and nothing was lost, hung or untyped. */
  assertClean(label: string): void {
    assert.equal(this.submitted, this.ok + this.failed + this.untyped + this.hung + this.lost, `${label}: ledger does not balance`);
    assert.equal(this.lost, 0, `${label}: lost calls`);
    assert.equal(this.hung, 0, `${label}: hung calls`);
    assert.equal(this.untyped, 0, `${label}: untyped errors`);
    assert.equal(unhandled, 0, `${label}: unhandled rejections`);
  }

  summary(): Record<string, unknown> {
    return {
      submitted: this.submitted,
      ok: this.ok,
      failed: this.failed,
      failedByCode: { ...this.failedByCode },
      lost: this.lost,
      hung: this.hung,
      untyped: this.untyped,
      unhandled,
    };
  }
}

/**
 * Measures time back to full capacity: from a worker's death (the kill) to the pool being `ready`
 * (every slot serving) after that death was noticed.
 */
export class CapacityWatch {
  readonly durations: number[] = [];
  private readonly pending: { pid: number; at: number; exitedAt: number | undefined }[] = [];
  /** Exits and returns to `ready` seen so far, for deaths registered after the fact. */
  private readonly exits = new Map<number, number>();
  private readonly readyAt: number[] = [];

  constructor(pool: Pool) {
    pool.on('workerExit', (e) => {
      if (e.pid === undefined) return;
      const now = performance.now();
      this.exits.set(e.pid, now);
      for (const p of this.pending) if (p.pid === e.pid) p.exitedAt = now;
    });
    pool.on('poolState', (e) => {
      if (e.to !== 'ready') return;
      const now = performance.now();
      this.readyAt.push(now);
      for (let i = this.pending.length - 1; i >= 0; i--) {
        const p = this.pending[i]!;
        if (p.exitedAt !== undefined) {
          this.durations.push(now - p.at);
          this.pending.splice(i, 1);
        }
      }
    });
  }

  /** Worker `pid` died at `at` (it may already have been noticed). */
  death(pid: number, at = performance.now()): void {
    const exitedAt = this.exits.get(pid);
    if (exitedAt !== undefined) {
      const back = this.readyAt.find((t) => t >= exitedAt);
      if (back !== undefined) {
        this.durations.push(back - at);
        return;
      }
    }
    this.pending.push({ pid, at, exitedAt });
  }

  get outstanding(): number {
    return this.pending.length;
  }
}

export class Scenario {
  readonly ledger = new Ledger();
  readonly faults: Record<string, number> = {};
  readonly deathToRejection: number[] = [];
  readonly capacity: number[] = [];
  readonly orphans: Record<string, number> = {};
  readonly figures: Record<string, unknown> = {};
  private readonly started = performance.now();

  readonly id: string;
  readonly title: string;

  /**
   * In fork-server mode (SNAKEPIT_TEST_START_METHOD) the scenario is recorded apart, `<id>-forkserver`;
   * sandboxed (SNAKEPIT_TEST_SANDBOX=1), with `-sandbox` after that.
   */
  constructor(id: string, title: string) {
    const forked = START_METHOD === 'forkserver';
    this.id = id + (forked ? '-forkserver' : '') + (TEST_SANDBOX ? '-sandbox' : '');
    this.title = title + (forked ? ' (fork server)' : '') + (TEST_SANDBOX ? ' (sandboxed)' : '');
  }

  fault(kind: string, n = 1): void {
    this.faults[kind] = (this.faults[kind] ?? 0) + n;
  }

  save(): void {
    mkdirSync(RESULTS, { recursive: true });
    const data = {
      id: this.id,
      title: this.title,
      durationMs: Math.round(performance.now() - this.started),
      faults: this.faults,
      ledger: this.ledger.summary(),
      deathToRejection: summarise(this.deathToRejection),
      capacity: summarise(this.capacity),
      orphans: this.orphans,
      figures: this.figures,
    };
    writeFileSync(path.join(RESULTS, `${this.id}.json`), JSON.stringify(data, null, 2));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function randomBetween(min: number, max: number): number {
  return min + Math.random() * (max - min);
}

/**
 * Closed-loop load: `clients` callers each submit `work` calls one after the other until `stop()`.
 * Every call goes through the ledger; results are checked against their token.
 */
export function steadyLoad(
  pool: Pool,
  scenario: Scenario,
  options: {
    clients: number;
    limitMs: number;
    idempotentShare?: number;
    ms?: [number, number];
    prefix?: string;
    onError?: (err: SnakepitError, idempotent: boolean) => void;
  },
): { stop: () => Promise<void>; tokens: { idempotent: Set<string>; plain: Set<string> } } {
  let running = true;
  let n = 0;
  const tokens = { idempotent: new Set<string>(), plain: new Set<string>() };
  const [lo, hi] = options.ms ?? [5, 30];
  const clients = Array.from({ length: options.clients }, async (_, c) => {
    while (running) {
      const token = `${options.prefix ?? 'w'}${c}-${n++}`;
      const idempotent = c < Math.round(options.clients * (options.idempotentShare ?? 0));
      (idempotent ? tokens.idempotent : tokens.plain).add(token);
      const { error } = await scenario.ledger.track(
        pool.execute<{ token: string }>('work', { token, ms: Math.round(randomBetween(lo, hi)) }, { idempotent }),
        { limitMs: options.limitMs, check: (v) => v.token === token },
      );
      if (error !== undefined) {
        // A closed pool (the scenario ended, perhaps by a failed assertion) ends the load.
        if (error.code === 'POOL_CLOSED') break;
        options.onError?.(error, idempotent);
        // A failed pool rejects at once: do not spin.
        if (error.code === 'POOL_FAILED') await sleep(20);
      }
    }
  });
  return {
    tokens,
    stop: async () => {
      running = false;
      await Promise.all(clients);
    },
  };
}

/** Pids of the pool's workers, optionally only those with a call in flight. */
export function workerPids(pool: Pool, busyOnly = false): number[] {
  return pool
    .stats()
    .workerList.filter((w) => w.state === 'ready' && (!busyOnly || w.inFlight > 0))
    .map((w) => w.pid!)
    .filter((p) => p !== undefined);
}

/**
 * Host pids of what the chaos fixture reports. Unsandboxed, a worker reports its own pid. Sandboxed
 * (SNAKEPIT_TEST_SANDBOX=1), a worker lives in a pid namespace of its own, whose pids mean nothing
 * here (and may name an unrelated process of the host): it reports its pool's worker id, negated
 * (test/fixtures/chaos.py, `_pid`), and this maps it to the worker's host pid, the pid the pool
 * reports for it (bubblewrap's, which leads the worker's process group), remembered from the pool's
 * spawn events so that a dead worker's report still maps.
 */
export class WorkerPids {
  private readonly byId = new Map<number, number>();

  constructor(pool: Pool) {
    for (const w of pool.stats().workerList) if (w.pid !== undefined) this.byId.set(w.id, w.pid);
    pool.on('workerSpawn', (e) => this.byId.set(e.workerId, e.pid));
  }

  host(reported: number): number {
    if (reported >= 0) return reported;
    const pid = this.byId.get(-reported);
    if (pid === undefined) throw new Error(`no worker ${-reported} was spawned by this pool`);
    return pid;
  }
}

/**
 * Send `signal` to a worker's interpreter, given the pid the pool reports for the worker: the pid
 * itself, or under bubblewrap the Python process inside (signalling bwrap would leave the worker
 * running, and answering, until its sandbox is torn down).
 */
export function signalWorker(pid: number, signal: NodeJS.Signals): void {
  process.kill(unwrapSandbox(pid), signal);
}

export function pick<T>(items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[Math.floor(Math.random() * items.length)];
}
