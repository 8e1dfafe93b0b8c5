import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { fixture, startPool } from './helpers.js';

// A file of its own: OpenTelemetry's global registry must not exist when the pool starts.
it('a pool started before any OpenTelemetry SDK traces its calls once one is registered', async () => {
  const registry = Symbol.for('opentelemetry.js.api.1');
  assert.equal((globalThis as Record<symbol, unknown>)[registry], undefined, 'something registered with OpenTelemetry already');
  const pool = await startPool({ adapter: fixture('observed.py') });
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const { trace } = await import('@opentelemetry/api');
  try {
    assert.equal(await pool.execute('work', { n: 1 }), 2);
    trace.setGlobalTracerProvider(provider);
    // The first call after the registration begins loading the API; calls are traced once it has.
    let calls = 0;
    while (exporter.getFinishedSpans().length === 0 && calls < 200) {
      assert.equal(await pool.execute('work', { n: calls }), 2 * calls);
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const span = exporter.getFinishedSpans().find((s) => s.name === 'snakepit.call work');
    assert.ok(span, `no call span after ${calls} calls`);
    assert.equal(span.attributes['rpc.system'], 'snakepit');
  } finally {
    await pool.destroy();
    trace.disable();
  }
});
