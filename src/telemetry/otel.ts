/**
 * OpenTelemetry traces. `@opentelemetry/api` is an optional peer dependency, imported once an
 * application has registered something with it (at Pool.start, or at the first call after); without
 * it, or while no SDK has registered a tracer provider, a call pays one property check and nothing
 * else.
 *
 * Spans:
 * - `snakepit.call <tool>` (CLIENT): one per `execute` or `stream`, from submission to settlement;
 *   event `dispatched` (queue wait, attempt, worker) each time it is sent to a worker.
 * - `snakepit.tool <tool>` (SERVER), made in the worker (python/snakepit_bridge/tracing.py) under the
 *   call span, from the W3C trace context carried in the call frame.
 * - `snakepit.host_tool <name>` (SERVER): a host tool called back from Python, under the Python
 *   span (its context comes back in the host_call frame).
 */

import type * as Api from '@opentelemetry/api';
import type { SnakepitError } from '../errors.js';
import { importModule } from '../boot/import.js';

/** The parts of a call that tracing reads (src/pool/call.ts). */
export interface TracedCall {
  readonly id: number;
  readonly tool: string;
  readonly attempts: number;
  readonly chunks: number;
  readonly window: number;
  readonly submittedAt: number;
  readonly dispatchedAt: number;
  readonly session: { readonly id: string } | undefined;
}

export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

const API_MODULE = '@opentelemetry/api'; // a variable: bundlers leave the optional import alone

let loaded: Promise<typeof Api | undefined> | undefined;

/**
 * Where `@opentelemetry/api` 1.x keeps what an application registered (an SDK's tracer or meter
 * provider, a context manager): one global object, shared by every copy of the package, that exists
 * only once something was registered. Until it exists nothing could record a span or a metric, so the
 * package is not imported: that import takes about 15 ms of the event loop, the time a forked worker
 * takes to start.
 */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/** Has an application registered anything with OpenTelemetry (so that spans could be recorded)? */
export function otelRegistered(): boolean {
  return (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] !== undefined;
}

/**
 * `@opentelemetry/api`, or undefined when it is not installed or `SNAKEPIT_OTEL=off` is set (read
 * when a pool starts). Imported once per process.
 */
export function loadApi(): Promise<typeof Api | undefined> {
  if (process.env.SNAKEPIT_OTEL === 'off') return Promise.resolve(undefined);
  loaded ??= importModule<typeof Api & { default?: typeof Api }>(API_MODULE).then(
    (m: typeof Api & { default?: typeof Api }) => (m.trace !== undefined ? m : m.default),
    () => undefined,
  );
  return loaded;
}

export function formatTraceparent(ctx: Api.SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function parseTraceparent(value: unknown): { traceId: string; spanId: string; traceFlags: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16) };
}

export class Tracing {
  private readonly noop: Api.TracerProvider;
  private delegate: Api.TracerProvider | undefined;
  private tracer: Api.Tracer | undefined;
  private readonly spans = new Map<object, Api.Span>();

  constructor(private readonly api: typeof Api) {
    this.noop = new api.ProxyTracerProvider().getDelegate();
  }

  /** The tracer of the registered SDK, or undefined while none is registered. */
  private active(): Api.Tracer | undefined {
    const provider = this.api.trace.getTracerProvider() as Api.TracerProvider & { getDelegate?: () => Api.TracerProvider };
    const delegate = provider.getDelegate !== undefined ? provider.getDelegate() : provider;
    if (delegate === this.noop) return undefined;
    if (delegate !== this.delegate || this.tracer === undefined) {
      this.delegate = delegate;
      this.tracer = provider.getTracer('snakepit');
    }
    return this.tracer;
  }

  submitted(call: TracedCall): void {
    const tracer = this.active();
    if (tracer === undefined) return;
    const attributes: Api.Attributes = {
      'rpc.system': 'snakepit',
      'rpc.method': call.tool,
      'snakepit.request_id': call.id,
    };
    if (call.session !== undefined) attributes['snakepit.session'] = call.session.id;
    if (call.window > 0) attributes['snakepit.stream'] = true;
    const span = tracer.startSpan(`snakepit.call ${call.tool}`, { kind: this.api.SpanKind.CLIENT, attributes });
    // Not sampled: nothing records it, nothing downstream would either; the call goes untraced.
    if (!span.isRecording()) return;
    this.spans.set(call, span);
  }

  /** The call goes to a worker now: returns the trace context to send with it, if traced. */
  dispatching(call: TracedCall, workerId: number, pid: number | undefined): TraceCarrier | undefined {
    if (this.spans.size === 0) return undefined;
    const span = this.spans.get(call);
    if (span === undefined) return undefined;
    // Few attribute writes: each costs the SDK a validation. The event marks the end of the queue wait.
    const attempt = call.attempts + 1; // counted once the frame is sent
    const attrs: Api.Attributes = {
      'snakepit.attempt': attempt,
      'snakepit.worker.id': workerId,
      'snakepit.queue_wait_ms': Math.max(0, performance.now() - call.submittedAt),
    };
    if (pid !== undefined) attrs['snakepit.worker.pid'] = pid;
    span.addEvent('dispatched', attempt > 1 ? { 'snakepit.attempt': attempt, 'snakepit.worker.id': workerId } : undefined);
    span.setAttributes(attrs);
    const ctx = span.spanContext();
    // Not sampled: nothing downstream records either, so the worker is spared the traced path.
    if ((ctx.traceFlags & 1) === 0) return undefined;
    const carrier: TraceCarrier = { traceparent: formatTraceparent(ctx) };
    const state = ctx.traceState?.serialize();
    if (state) carrier.tracestate = state;
    return carrier;
  }

  settled(call: TracedCall, error: SnakepitError | undefined): void {
    if (this.spans.size === 0) return;
    const span = this.spans.get(call);
    if (span === undefined) return;
    this.spans.delete(call);
    const attrs: Api.Attributes = { 'snakepit.outcome': error === undefined ? 'ok' : 'error' };
    if (call.dispatchedAt > 0) attrs['snakepit.run_ms'] = performance.now() - call.dispatchedAt;
    if (call.window > 0) attrs['snakepit.chunks'] = call.chunks;
    if (error !== undefined) {
      attrs['snakepit.error_code'] = error.code;
      attrs['error.type'] = error.code;
      span.recordException(error);
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error.message.split('\n', 1)[0] });
    }
    span.setAttributes(attrs);
    span.end();
  }

  /**
   * Run host tool `name`, called back from Python by `call`, inside a span whose parent is the
   * Python span (from `carrier`) or else the call's span. Returns what `run` returns.
   */
  hostTool<T>(call: TracedCall, carrier: unknown, name: string, run: () => T): T {
    const tracer = this.active();
    if (tracer === undefined) return run();
    const api = this.api;
    let parent = api.context.active();
    const remote = parseTraceparent((carrier as TraceCarrier | undefined)?.traceparent);
    if (remote !== undefined) {
      parent = api.trace.setSpanContext(parent, { ...remote, isRemote: true });
    } else {
      const callSpan = this.spans.get(call);
      if (callSpan !== undefined) parent = api.trace.setSpan(parent, callSpan);
    }
    const span = tracer.startSpan(
      `snakepit.host_tool ${name}`,
      { kind: api.SpanKind.SERVER, attributes: { 'rpc.system': 'snakepit', 'rpc.method': name, 'snakepit.request_id': call.id } },
      parent,
    );
    const fail = (err: unknown): void => {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    };
    let value: T;
    try {
      value = api.context.with(api.trace.setSpan(parent, span), run);
    } catch (err) {
      fail(err);
      span.end();
      throw err;
    }
    if (value !== null && typeof (value as PromiseLike<unknown> | undefined)?.then === 'function') {
      (value as PromiseLike<unknown>).then(
        () => span.end(),
        (err: unknown) => {
          fail(err);
          span.end();
        },
      );
    } else {
      span.end();
    }
    return value;
  }
}
