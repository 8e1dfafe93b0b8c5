/**
 * A pool's telemetry: the few hooks the call path makes (submitted, dispatching, settled), and what
 * hangs off them: OpenTelemetry spans and metrics (otel.ts, metrics.ts), the `snakepit:call`
 * diagnostics tracing channel, log delivery (logs.ts), and the live figures the dashboard reads
 * (recent errors, per-second series). Each hook costs a few checks when nothing listens.
 */

import { tracingChannel } from 'node:diagnostics_channel';
import { PythonError, type SnakepitError } from '../errors.js';
import type { LogEvent, PoolEvent } from '../events.js';
import { LogRouter, type LogsOption } from './logs.js';
import { PoolMetrics, type MetricsSource } from './metrics.js';
import { loadApi, otelRegistered, Tracing, type TraceCarrier, type TracedCall } from './otel.js';
import { Series } from './series.js';

/**
 * `tracing:snakepit:call:{start,end,asyncStart,asyncEnd,error}`: `start` when a call is submitted,
 * `end` right after (the synchronous part), `error` when it fails, `asyncStart`/`asyncEnd` when it
 * settles. The message is the same object throughout: `{ tool, requestId, session, stream }`, with
 * `error` or `result` (for a stream: undefined) added when it settles.
 */
export const CALL_CHANNEL = 'snakepit:call';
const callChannel = tracingChannel(CALL_CHANNEL);

export interface CallMessage {
  tool: string;
  requestId: number;
  session: string | undefined;
  stream: boolean;
  result?: unknown;
  error?: SnakepitError;
}

/** A failed call, as the dashboard lists it. */
export interface RecentError {
  readonly time: number;
  readonly tool: string;
  readonly requestId: number;
  readonly code: string;
  readonly message: string;
  readonly traceback: string | undefined;
  readonly workerId: number | undefined;
}

const RECENT_ERRORS = 50;

export class Telemetry {
  readonly metrics: PoolMetrics;
  readonly logs: LogRouter;
  /** Set once `@opentelemetry/api` is loaded. */
  private tracing: Tracing | undefined;
  /** The API's import, once begun (at start when something is registered, else at the first call after). */
  private loading: Promise<void> | undefined;
  private readonly messages = new Map<object, CallMessage>();
  readonly recentErrors: RecentError[] = [];
  /** Per-second figures, kept only while something (a dashboard) watches: see watchSeries. */
  series: Series | undefined;
  private seriesWatchers = 0;
  /** Listeners of pool events other than logs (the dashboard). */
  readonly eventListeners = new Set<(event: PoolEvent) => void>();

  constructor(source: MetricsSource, logs: LogsOption) {
    this.metrics = new PoolMetrics(source);
    this.logs = new LogRouter(logs);
  }

  /**
   * At Pool.start: load `@opentelemetry/api` if it is installed and the application has registered
   * something with it (an SDK). Registered later, it is loaded at the first call after, and calls are
   * traced once it is.
   */
  start(): Promise<void> {
    return otelRegistered() ? this.load() : Promise.resolve();
  }

  private load(): Promise<void> {
    this.loading ??= loadApi().then((api) => {
      if (api === undefined) return;
      this.tracing = new Tracing(api);
      this.metrics.useOtel(api);
    });
    return this.loading;
  }

  // ------------------------------------------------------------- call hooks

  submitted(call: TracedCall): void {
    if (this.tracing !== undefined) this.tracing.submitted(call);
    else if (this.loading === undefined && otelRegistered()) void this.load();
    if (callChannel.start.hasSubscribers) {
      const message: CallMessage = { tool: call.tool, requestId: call.id, session: call.session?.id, stream: call.window > 0 };
      this.messages.set(call, message);
      callChannel.start.publish(message);
      callChannel.end.publish(message);
    }
  }

  /** The call goes to a worker: the trace context to send in its frame, when it is traced. */
  dispatching(call: TracedCall, workerId: number, pid: number | undefined): TraceCarrier | undefined {
    return this.tracing?.dispatching(call, workerId, pid);
  }

  settled(
    call: TracedCall & { readonly worker?: { readonly id: number } | undefined },
    error: SnakepitError | undefined,
    now = performance.now(),
  ): void {
    const dispatched = call.dispatchedAt > 0;
    const waitMs = (dispatched ? call.dispatchedAt : now) - call.submittedAt;
    const runMs = dispatched ? now - call.dispatchedAt : undefined;
    this.metrics.called(call.tool, error === undefined ? 'ok' : error.code, waitMs, runMs);
    this.series?.record(error === undefined, now - call.submittedAt);
    if (error !== undefined) this.recordError(call, error);
    this.tracing?.settled(call, error);
    if (this.messages.size > 0) {
      const message = this.messages.get(call);
      if (message !== undefined) {
        this.messages.delete(call);
        if (error !== undefined) {
          message.error = error;
          callChannel.error.publish(message);
        }
        callChannel.asyncStart.publish(message);
        callChannel.asyncEnd.publish(message);
      }
    }
  }

  /** Run a host tool called back from Python inside its span (when traced). */
  hostTool<T>(call: TracedCall, carrier: unknown, name: string, run: () => T): T {
    return this.tracing === undefined ? run() : this.tracing.hostTool(call, carrier, name, run);
  }

  private recordError(call: TracedCall & { readonly worker?: { readonly id: number } | undefined }, error: SnakepitError): void {
    if (this.recentErrors.length >= RECENT_ERRORS) this.recentErrors.shift();
    this.recentErrors.push(
      Object.freeze({
        time: Date.now(),
        tool: call.tool,
        requestId: call.id,
        code: error.code,
        message: error.message,
        traceback: error instanceof PythonError ? error.traceback : undefined,
        workerId: call.worker?.id,
      }),
    );
  }

  /** Keep per-second figures until the returned function is called (once per watcher). */
  watchSeries(): () => void {
    this.seriesWatchers++;
    this.series ??= new Series();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.seriesWatchers === 0) this.series = undefined;
    };
  }

  // ------------------------------------------------------------------ events

  event(event: PoolEvent): void {
    if (event.type === 'workerExit') this.metrics.exited(event.reason);
    for (const listener of this.eventListeners) listener(event);
  }

  log(record: LogEvent): void {
    this.logs.deliver(record);
  }
}
