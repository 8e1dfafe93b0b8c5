import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { context, metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import type { Pool } from '../src/index.js';
import { fixture, rejection, startPool } from './helpers.js';

interface PySpan {
  name: string;
  trace_id: string;
  span_id: string;
  parent_id: string | null;
  attributes: Record<string, unknown>;
}

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe('OpenTelemetry', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  const meterProvider = new MeterProvider({ readers: [reader] });
  let pool: Pool;

  before(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    metrics.setGlobalMeterProvider(meterProvider);
    pool = await startPool({ adapter: fixture('observed.py'), size: 2 });
    pool.registerTool('host_add', (args) => Number(args.a) + Number(args.b));
  });

  after(async () => {
    await pool.destroy();
    trace.disable();
    metrics.disable();
    context.disable();
  });

  const byName = (spans: ReadableSpan[], name: string): ReadableSpan => {
    const span = spans.find((s) => s.name === name);
    assert.ok(span, `no span ${name} among ${spans.map((s) => s.name).join(', ')}`);
    return span;
  };

  it('host call span -> Python tool span -> host tool span form one trace', async () => {
    exporter.reset();
    const tracer = trace.getTracer('test');
    const value = await tracer.startActiveSpan('test-root', async (root) => {
      try {
        return await pool.execute('callback', { x: 4 });
      } finally {
        root.end();
      }
    });
    assert.equal(value, 50);
    const spans = exporter.getFinishedSpans();
    const root = byName(spans, 'test-root');
    const call = byName(spans, 'snakepit.call callback');
    const hostTool = byName(spans, 'snakepit.host_tool host_add');
    const traceId = root.spanContext().traceId;
    assert.equal(call.parentSpanContext?.spanId, root.spanContext().spanId);
    assert.equal(call.spanContext().traceId, traceId);
    assert.equal(call.attributes['rpc.system'], 'snakepit');
    assert.equal(call.attributes['rpc.method'], 'callback');
    assert.equal(call.attributes['snakepit.outcome'], 'ok');
    assert.equal(call.attributes['snakepit.attempt'], 1);
    assert.equal(typeof call.attributes['snakepit.worker.pid'], 'number');
    assert.ok(call.events.some((e) => e.name === 'dispatched'));

    // The worker's spans (its own in-memory exporter), fetched outside the test trace.
    const pySpans = (await context.with(trace.deleteSpan(context.active()), () => pool.execute('spans'))) as PySpan[];
    const tool = pySpans.find((s) => s.name === 'snakepit.tool callback' && s.trace_id === traceId);
    assert.ok(tool, JSON.stringify(pySpans));
    assert.equal(tool.parent_id, call.spanContext().spanId, 'the Python span is a child of the host call span');
    assert.equal(hostTool.spanContext().traceId, traceId);
    assert.equal(hostTool.parentSpanContext?.spanId, tool.span_id, 'the host tool span is a child of the Python span');
  });

  it('a stream is one span with its chunk count; a failure records the error code', async () => {
    exporter.reset();
    const chunks: unknown[] = [];
    for await (const c of pool.stream('chunks', { n: 5 })) chunks.push(c);
    assert.equal(chunks.length, 5);
    await rejection(pool.execute('fail', { message: 'bad' }));
    const spans = exporter.getFinishedSpans();
    const stream = byName(spans, 'snakepit.call chunks');
    assert.equal(stream.attributes['snakepit.chunks'], 5);
    assert.equal(stream.attributes['snakepit.stream'], true);
    const failed = byName(spans, 'snakepit.call fail');
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.attributes['snakepit.error_code'], 'PYTHON_ERROR');
    assert.equal(failed.attributes['snakepit.outcome'], 'error');
    const pySpans = (await pool.execute('spans')) as PySpan[];
    const pyStream = pySpans.find((s) => s.name === 'snakepit.tool chunks' && s.trace_id === stream.spanContext().traceId);
    assert.equal(pyStream?.attributes['snakepit.chunks'], 5);
  });

  it('metrics through the OpenTelemetry API and as Prometheus text after a known workload', async () => {
    const fresh = await startPool({ adapter: fixture('observed.py') });
    try {
      for (let i = 0; i < 5; i++) await fresh.execute('work', { n: i });
      for (let i = 0; i < 2; i++) await rejection(fresh.execute('fail'));
      const text = fresh.metricsText();
      assert.match(text, /^snakepit_calls_total\{tool="work",outcome="ok"\} 5$/m);
      assert.match(text, /^snakepit_calls_total\{tool="fail",outcome="PYTHON_ERROR"\} 2$/m);
      assert.match(text, /^snakepit_call_run_seconds_count 7$/m);
      assert.match(text, /^snakepit_call_queue_wait_seconds_bucket\{le="\+Inf"\} 7$/m);
      assert.match(text, /^snakepit_workers\{state="ready"\} 1$/m);
      assert.match(text, /^snakepit_queue_depth 0$/m);
      assert.match(text, /^# TYPE snakepit_call_run_seconds histogram$/m);
      const sent = Number(/^snakepit_bytes_sent_total (\d+)$/m.exec(text)?.[1]);
      const received = Number(/^snakepit_bytes_received_total (\d+)$/m.exec(text)?.[1]);
      assert.ok(sent > 7 * 10 && received > 7 * 10, `${sent} ${received}`);
    } finally {
      await fresh.destroy();
    }
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === 'snakepit').flatMap((s) => s.metrics);
    const find = (name: string) => {
      const m = all.find((x) => x.descriptor.name === name);
      assert.ok(m, `no metric ${name}: ${all.map((x) => x.descriptor.name).join(', ')}`);
      return m;
    };
    const calls = find('snakepit.calls').dataPoints as DataPoint<number>[];
    const okWork = calls.filter((p) => p.attributes['rpc.method'] === 'work' && p.attributes['snakepit.outcome'] === 'ok');
    // Both pools report through the one global provider: the fresh pool ran work 5 times.
    assert.ok(okWork.reduce((n, p) => n + p.value, 0) >= 5);
    const failures = calls.find((p) => p.attributes['rpc.method'] === 'fail' && p.attributes['snakepit.outcome'] === 'PYTHON_ERROR');
    assert.ok(failures !== undefined && failures.value >= 2);
    const duration = find('snakepit.call.duration').dataPoints as DataPoint<Histogram>[];
    assert.ok(duration.reduce((n, p) => n + p.value.count, 0) >= 7);
    find('snakepit.workers');
    find('snakepit.bytes.sent');
  });

  it('publishes start, error and asyncEnd on the snakepit:call tracing channel', async () => {
    const seen: [string, string, number][] = [];
    const channel = diagnostics_channel.tracingChannel('snakepit:call');
    const handlers = {
      start: (m: unknown) => seen.push(['start', (m as { tool: string }).tool, (m as { requestId: number }).requestId]),
      end: () => {},
      asyncStart: () => {},
      asyncEnd: (m: unknown) => seen.push(['asyncEnd', (m as { tool: string }).tool, (m as { requestId: number }).requestId]),
      error: (m: unknown) => seen.push(['error', (m as { error: { code: string } }).error.code, (m as { requestId: number }).requestId]),
    };
    channel.subscribe(handlers);
    try {
      await pool.execute('work', { n: 1 });
      await rejection(pool.execute('fail'));
    } finally {
      channel.unsubscribe(handlers);
    }
    assert.equal(seen.length, 5);
    const [a, b, c, d, e] = seen;
    assert.deepEqual([a![0], a![1], b![0]], ['start', 'work', 'asyncEnd']);
    assert.equal(a![2], b![2]);
    assert.deepEqual([c![0], c![1], d![0], d![1], e![0]], ['start', 'fail', 'error', 'PYTHON_ERROR', 'asyncEnd']);
  });
});

describe('OpenTelemetry export over OTLP/HTTP', () => {
  it('sends the spans of a call, from the host and from the worker, to one collector', async () => {
    const bodies: unknown[] = [];
    const protobuf: Buffer[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        if (req.url === '/v1/traces' && String(req.headers['content-type']).includes('json')) bodies.push(JSON.parse(body.toString('utf8')));
        else if (req.url === '/v1/traces') protobuf.push(body); // the Python exporter sends protobuf
        res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/json') }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces` }))],
    });
    trace.setGlobalTracerProvider(provider);
    const pool = await startPool({ adapter: fixture('observed.py'), env: { OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces` } });
    let traceId = '';
    try {
      assert.equal(await pool.execute('work', { n: 21 }), 42);
      await provider.forceFlush();
      traceId = (bodies as { resourceSpans: { scopeSpans: { spans: { name: string; traceId: string }[] }[] }[] }[])
        .flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)))
        .find((s) => s.name === 'snakepit.call work')!.traceId;
      // The worker's span was exported when it ended, before the result came back.
      assert.ok(protobuf.length > 0, 'the worker exported nothing');
    } finally {
      await pool.destroy();
      await provider.shutdown();
      trace.disable();
      server.close();
    }
    const names = JSON.stringify(bodies);
    assert.match(names, /"name":"snakepit\.call work"/);
    assert.match(names, /"key":"rpc\.system","value":\{"stringValue":"snakepit"\}/);
    // Protobuf carries the span name as UTF-8 and the trace id as its 16 raw bytes.
    const fromWorker = Buffer.concat(protobuf);
    assert.ok(fromWorker.includes('snakepit.tool work'), 'no worker span named snakepit.tool work');
    assert.ok(fromWorker.includes(Buffer.from(traceId, 'hex')), 'the worker span is not in the host trace');
  });
});
