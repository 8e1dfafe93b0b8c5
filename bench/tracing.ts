/**
 * Per-call cost of tracing, against tracing absent, measured side by side in one run.
 *
 *   node --import tsx bench/tracing.ts [--rounds 5] [--calls 3000] [--tp 10000] [--json FILE]
 *
 * Contenders (each a pool of one worker calling work.add; the worker has opentelemetry-api installed
 * but no SDK, so a traced call also runs the tool inside the worker's no-op span):
 *   absent        SNAKEPIT_OTEL=off: the pool never loads @opentelemetry/api
 *   api, no SDK   the API is loaded, no tracer provider registered
 *   SDK, sampled off  a BasicTracerProvider with AlwaysOffSampler (spans made, not recorded)
 *   SDK, no-op export a BasicTracerProvider recording every span, exported to an exporter that drops them
 *   SDK, recording    a BasicTracerProvider recording every span into an in-memory exporter
 * Each round measures every contender once (sequential calls, then a throughput run with 32 calls in
 * flight, with the host CPU time per call), switching the global provider before each; figures are
 * medians over the rounds; the ratios are cost per call against `absent`. Goals: <= 1.02 without an SDK, <= 1.15 recording.
 */

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { trace } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { Pool } from './lib/library.js';
import { ADAPTER, PYTHON, machineInfo } from './lib/env.js';
import { median, round, sequential, table, throughput } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    calls: { type: 'string', default: '3000' },
    tp: { type: 'string', default: '10000' },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);
const TP = Number(values.tp);

const dropAll: SpanExporter = {
  export: (_spans: ReadableSpan[], done) => done({ code: 0 }),
  shutdown: async () => {},
};
const memory = new InMemorySpanExporter();

interface Mode {
  name: string;
  pool: 'absent' | 'api';
  provider: BasicTracerProvider | undefined;
}

async function main(): Promise<void> {
  const m = machineInfo();
  console.log(`tracing: ${m.date}, ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, Python ${m.python}, load ${m.loadavg.join(' ')}`);
  console.log(`rounds ${ROUNDS}, ${CALLS} sequential calls and ${TP} calls at 32 in flight per contender per round\n`);

  process.env.SNAKEPIT_OTEL = 'off';
  const absent = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, concurrency: 32, logs: 'events' });
  delete process.env.SNAKEPIT_OTEL;
  const withApi = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, concurrency: 32, logs: 'events' });
  const modes: Mode[] = [
    { name: 'absent', pool: 'absent', provider: undefined },
    { name: 'api, no SDK', pool: 'api', provider: undefined },
    { name: 'SDK, sampled off', pool: 'api', provider: new BasicTracerProvider({ sampler: new AlwaysOffSampler() }) },
    {
      name: 'SDK, no-op export',
      pool: 'api',
      provider: new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropAll, { maxQueueSize: 100_000 })] }),
    },
    { name: 'SDK, recording', pool: 'api', provider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] }) },
  ];
  const seq = new Map<string, number[]>(modes.map((x) => [x.name, []]));
  const tp = new Map<string, number[]>(modes.map((x) => [x.name, []]));
  const cpu = new Map<string, number[]>(modes.map((x) => [x.name, []]));
  const args = { a: 1, b: 2 };
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? modes : [...modes].reverse();
    for (const mode of order) {
      trace.disable();
      if (mode.provider !== undefined) trace.setGlobalTracerProvider(mode.provider);
      const pool = mode.pool === 'absent' ? absent : withApi;
      const call = (): Promise<unknown> => pool.execute('add', args);
      await sequential(call, 300); // warm-up
      const lat = await sequential(call, CALLS);
      seq.get(mode.name)!.push(lat.mean);
      const c0 = process.cpuUsage();
      tp.get(mode.name)!.push(await throughput(call, TP, 32));
      const c = process.cpuUsage(c0);
      cpu.get(mode.name)!.push((c.user + c.system) / TP);
      memory.reset();
    }
  }
  trace.disable();
  await absent.close();
  await withApi.close();

  const base = { seq: median(seq.get('absent')!), tp: median(tp.get('absent')!), cpu: median(cpu.get('absent')!) };
  const rows = modes.map((mode) => {
    const s = median(seq.get(mode.name)!);
    const t = median(tp.get(mode.name)!);
    const h = median(cpu.get(mode.name)!);
    return [mode.name, round(s, 1), round(s / base.seq, 3), Math.round(t), round(base.tp / t, 3), round(h, 2), round(h / base.cpu, 3)];
  });
  console.log(
    table(['contender', 'sequential us/call', 'ratio', 'calls/s at 32 in flight', 'ratio', 'host CPU us/call', 'ratio'], rows),
  );
  console.log('\nratios: cost per call against absent (1.00 = no cost); goals <= 1.02 without an SDK, <= 1.15 recording');
  console.log('host CPU: process.cpuUsage over the throughput run, per call (least sensitive to other load)');
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine: m, rows }, null, 2));
}

await main();
