/**
 * Pool metrics: kept here at a few operations per call, exposed as Prometheus text
 * (`pool.metricsText()`) and, when `@opentelemetry/api` is installed and a meter provider is
 * registered before `Pool.start`, through the OpenTelemetry metrics API (docs/observability.md).
 */

import type * as Api from '@opentelemetry/api';
import type { PoolStats } from '../pool/stats.js';

/** Upper bounds in seconds of the duration histograms' buckets (plus +Inf). */
export const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Buckets {
  readonly counts = new Float64Array(BUCKETS.length + 1);
  count = 0;
  sum = 0;

  record(seconds: number): void {
    this.count++;
    this.sum += seconds;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.counts[i]!++;
  }
}

/** What the metrics read besides their own counters. */
export interface MetricsSource {
  stats(): PoolStats;
  /** Bytes written to and read from workers, all of them, since the pool started. */
  bytes(): { sent: number; received: number };
}

const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class PoolMetrics {
  /** tool -> outcome (`ok` or an error code) -> count. */
  readonly calls = new Map<string, Map<string, number>>();
  readonly wait = new Buckets();
  readonly run = new Buckets();
  /** Worker exits by reason (`crash`, `wedged`, `recycled`, ...). */
  readonly exits = new Map<string, number>();
  private otel: { calls: Api.Counter; wait: Api.Histogram; run: Api.Histogram } | undefined;

  constructor(private readonly source: MetricsSource) {}

  called(tool: string, outcome: string, waitMs: number, runMs: number | undefined): void {
    let byOutcome = this.calls.get(tool);
    if (byOutcome === undefined) this.calls.set(tool, (byOutcome = new Map()));
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    this.wait.record(waitMs / 1000);
    if (runMs !== undefined) this.run.record(runMs / 1000);
    const otel = this.otel;
    if (otel !== undefined) {
      const attrs = { 'rpc.method': tool, 'snakepit.outcome': outcome };
      otel.calls.add(1, attrs);
      otel.wait.record(waitMs / 1000, { 'rpc.method': tool });
      if (runMs !== undefined) otel.run.record(runMs / 1000, attrs);
    }
  }

  exited(reason: string): void {
    this.exits.set(reason, (this.exits.get(reason) ?? 0) + 1);
  }

  /** Register the OpenTelemetry instruments when a meter provider is registered. */
  useOtel(api: typeof Api): void {
    const provider = api.metrics.getMeterProvider();
    if (provider.constructor.name === 'NoopMeterProvider') return;
    const meter = provider.getMeter('snakepit');
    const buckets = { advice: { explicitBucketBoundaries: BUCKETS } };
    this.otel = {
      calls: meter.createCounter('snakepit.calls', { description: 'Calls settled, by tool and outcome' }),
      wait: meter.createHistogram('snakepit.call.queue_wait', { unit: 's', description: 'Time from submission to dispatch', ...buckets }),
      run: meter.createHistogram('snakepit.call.duration', { unit: 's', description: 'Time from dispatch to settlement', ...buckets }),
    };
    const gauges = {
      inFlight: meter.createObservableGauge('snakepit.calls.in_flight', { description: 'Calls running on workers' }),
      queued: meter.createObservableGauge('snakepit.queue.depth', { description: 'Calls waiting for a worker' }),
      workers: meter.createObservableGauge('snakepit.workers', { description: 'Workers by state' }),
      restarts: meter.createObservableCounter('snakepit.worker.restarts', { description: 'Workers replaced after dying' }),
      recycles: meter.createObservableCounter('snakepit.worker.recycles', { description: 'Workers recycled' }),
      exits: meter.createObservableCounter('snakepit.worker.exits', { description: 'Worker exits by reason (crash, wedged, ...)' }),
      sent: meter.createObservableCounter('snakepit.bytes.sent', { unit: 'By', description: 'Bytes written to workers' }),
      received: meter.createObservableCounter('snakepit.bytes.received', { unit: 'By', description: 'Bytes read from workers' }),
    };
    meter.addBatchObservableCallback((result) => {
      const s = this.source.stats();
      const bytes = this.source.bytes();
      result.observe(gauges.inFlight, s.inFlight);
      result.observe(gauges.queued, s.queued);
      for (const [state, n] of Object.entries(s.workers)) result.observe(gauges.workers, n, { state });
      result.observe(gauges.restarts, s.restarts);
      result.observe(gauges.recycles, s.recycles);
      for (const [reason, n] of this.exits) result.observe(gauges.exits, n, { reason });
      result.observe(gauges.sent, bytes.sent);
      result.observe(gauges.received, bytes.received);
    }, Object.values(gauges));
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  text(): string {
    const s = this.source.stats();
    const bytes = this.source.bytes();
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const calls: string[] = [];
    for (const [tool, byOutcome] of this.calls) {
      for (const [outcome, n] of byOutcome) calls.push(`snakepit_calls_total{tool="${label(tool)}",outcome="${label(outcome)}"} ${n}`);
    }
    metric('snakepit_calls_total', 'counter', 'Calls settled, by tool and outcome (ok or the error code).', calls);
    const histogram = (name: string, help: string, h: Buckets): void => {
      const lines: string[] = [];
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += h.counts[i]!;
        lines.push(`${name}_bucket{le="${le}"} ${cumulative}`);
      });
      lines.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sum}`, `${name}_count ${h.count}`);
      metric(name, 'histogram', help, lines);
    };
    histogram('snakepit_call_queue_wait_seconds', 'Time from submission to dispatch.', this.wait);
    histogram('snakepit_call_run_seconds', 'Time from dispatch to settlement.', this.run);
    metric('snakepit_calls_in_flight', 'gauge', 'Calls running on workers.', [`snakepit_calls_in_flight ${s.inFlight}`]);
    metric('snakepit_queue_depth', 'gauge', 'Calls waiting for a worker.', [`snakepit_queue_depth ${s.queued}`]);
    metric(
      'snakepit_workers',
      'gauge',
      'Workers by state (busy workers are counted in ready too).',
      Object.entries(s.workers).map(([state, n]) => `snakepit_workers{state="${state}"} ${n}`),
    );
    metric('snakepit_worker_restarts_total', 'counter', 'Workers replaced after dying.', [`snakepit_worker_restarts_total ${s.restarts}`]);
    metric('snakepit_worker_recycles_total', 'counter', 'Workers recycled.', [`snakepit_worker_recycles_total ${s.recycles}`]);
    metric(
      'snakepit_worker_exits_total',
      'counter',
      'Worker exits by reason (crash, wedged, protocol-error, recycled, shutdown, ...).',
      [...this.exits].map(([reason, n]) => `snakepit_worker_exits_total{reason="${label(reason)}"} ${n}`),
    );
    metric('snakepit_worker_crashes_total', 'counter', 'Unexpected exits of ready workers.', [`snakepit_worker_crashes_total ${s.crashes}`]);
    metric('snakepit_bytes_sent_total', 'counter', 'Bytes written to workers.', [`snakepit_bytes_sent_total ${bytes.sent}`]);
    metric('snakepit_bytes_received_total', 'counter', 'Bytes read from workers.', [`snakepit_bytes_received_total ${bytes.received}`]);
    return out.join('\n') + '\n';
  }
}
