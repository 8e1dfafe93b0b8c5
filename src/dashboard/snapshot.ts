/**
 * What the dashboard shows, gathered from a pool's core once per update: workers (with RSS from
 * /proc), queue, totals, per-second series, recent errors, sessions and lifecycle events.
 */

import type { PoolEvent } from '../events.js';
import type { PoolCore } from '../pool/core.js';
import type { SecondFigures } from '../telemetry/series.js';
import type { RecentError } from '../telemetry/telemetry.js';
import { readRss } from '../worker/procfs.js';

export interface WorkerRow {
  id: number;
  pid: number | undefined;
  state: string;
  rss: number | undefined;
  inFlight: number;
  heartbeatRtt: number | undefined;
  ageMs: number;
  served: number;
}

export interface LifecycleEntry {
  time: number;
  type: string;
  text: string;
}

export interface Snapshot {
  time: number;
  state: string;
  size: number;
  adapter: string;
  workers: WorkerRow[];
  queued: number;
  peakQueued: number;
  inFlight: number;
  totals: { submitted: number; succeeded: number; failed: number; restarts: number; recycles: number; crashes: number };
  waitP50: number;
  runP50: number;
  series: readonly SecondFigures[];
  errors: readonly RecentError[];
  sessions: { id: string; workerId: number | undefined; pid: number | undefined; ageMs: number }[];
  events: readonly LifecycleEntry[];
}

const EVENTS_KEPT = 50;

function describe(event: PoolEvent): string | undefined {
  switch (event.type) {
    case 'workerSpawn':
      return `worker ${event.workerId} spawned (pid ${event.pid})`;
    case 'workerReady':
      return `worker ${event.workerId} ready in ${event.startMs} ms (pid ${event.pid})`;
    case 'workerExit':
      return `worker ${event.workerId} exited: ${event.reason}${event.signal ? ` (${event.signal})` : event.code !== null ? ` (code ${event.code})` : ''}, ${event.lostCalls} calls lost`;
    case 'workerRestart':
      return `worker ${event.workerId} replaced worker ${event.replaces} after ${event.downtimeMs} ms (attempt ${event.attempt})`;
    case 'workerRecycle':
      return `worker ${event.workerId} recycled (${event.reason})`;
    case 'poolState':
      return `pool ${event.from} -> ${event.to}${event.reason ? `: ${event.reason}` : ''}`;
    default:
      return undefined;
  }
}

/** Watches one pool for the dashboard; `stop()` detaches it. */
export class PoolWatch {
  private readonly events: LifecycleEntry[] = [];
  private readonly listener = (event: PoolEvent): void => {
    const text = describe(event);
    if (text === undefined) return;
    if (this.events.length >= EVENTS_KEPT) this.events.shift();
    this.events.push({ time: Date.now(), type: event.type, text });
  };

  private readonly unwatch: () => void;

  constructor(private readonly core: PoolCore) {
    this.unwatch = core.telemetry.watchSeries();
    core.telemetry.eventListeners.add(this.listener);
  }

  stop(): void {
    this.unwatch();
    this.core.telemetry.eventListeners.delete(this.listener);
  }

  snapshot(): Snapshot {
    const core = this.core;
    const stats = core.stats();
    const now = performance.now();
    const workers = core.workers.map((w) => ({
      id: w.id,
      pid: w.pid,
      state: w.retiring && w.state === 'ready' ? 'retiring' : w.state === 'ready' && w.pending.size > 0 ? 'busy' : w.state,
      rss: w.pid !== undefined && w.state !== 'exited' ? readRss(w.pid) : undefined,
      inFlight: w.pending.size,
      heartbeatRtt: w.heartbeat.lastRtt,
      ageMs: Math.round(now - (w.readyAt || w.startedAt)),
      served: w.completed,
    }));
    const telemetry = core.telemetry;
    return {
      time: Date.now(),
      state: stats.state,
      size: stats.size,
      adapter: core.options.adapter,
      workers,
      queued: stats.queued,
      peakQueued: stats.peakQueued,
      inFlight: stats.inFlight,
      totals: {
        submitted: stats.submitted,
        succeeded: stats.succeeded,
        failed: stats.failed,
        restarts: stats.restarts,
        recycles: stats.recycles,
        crashes: stats.crashes,
      },
      waitP50: stats.waitTime.p50,
      runP50: stats.runTime.p50,
      series: telemetry.series?.history() ?? [],
      errors: telemetry.recentErrors.slice(-20),
      sessions: core.sessions.list().slice(0, 100),
      events: this.events.slice(-30),
    };
  }
}
