/**
 * Runs one contender in its own Node process, driven by bench/run.ts over the IPC channel, so that the
 * memory and startup figures of a contender are its own. Each request `{ id, op, ... }` gets one reply
 * `{ id, ok, value | error }`.
 */

import { CONTENDERS } from './contenders/index.js';
import type { Contender } from './contender.js';
import { median, sequential, throughput } from './measure.js';
import { gc, openFds, pin, pssOf, rssOf } from './procfs.js';

export type PayloadKind = 'bytesTo' | 'bytesFrom' | 'arrayTo' | 'arrayFrom';

export type Request =
  | { op: 'start'; workers: number }
  | { op: 'seq'; n: number }
  | { op: 'tp'; n: number; inFlight: number }
  | { op: 'payload'; kind: PayloadKind; reps: number }
  | { op: 'memory' }
  | { op: 'pin'; host: number | null; workers: number | null }
  | { op: 'soak'; total: number; every: number; inFlight: number }
  | { op: 'stop' };

export interface MemorySample {
  hostRss: number;
  hostHeapUsed: number;
  /**
   * What V8 has committed for its heap (absent in older results): the host's RSS follows it as V8
   * resizes its spaces, whatever the heap holds.
   */
  hostHeapTotal?: number;
  workerRss: number[];
  workerPss: number[];
  fds: number;
}

export interface StartResult {
  /** Milliseconds from the start request to the contender being ready for calls. */
  readyMs: number;
  /** Milliseconds from the start request to the first call's result. */
  firstCallMs: number;
  /**
   * Milliseconds from the start request until every worker has answered a call (one call per worker,
   * sent together after the first): what a pool of N workers needs before it serves at full width.
   * A contender whose start returns before its workers are ready pays for them here.
   */
  allAnsweredMs: number;
  before: MemorySample;
  after: MemorySample;
}

export interface SoakSample extends MemorySample {
  calls: number;
  seconds: number;
}

const BYTES = 1 << 20;
const ELEMENTS = 1_000_000;
const ARRAY_SUM = (ELEMENTS * (ELEMENTS - 1)) / 2;

function memory(c: Contender | undefined): MemorySample {
  gc();
  const m = process.memoryUsage();
  const pids = c?.workerPids() ?? [];
  return { hostRss: m.rss, hostHeapUsed: m.heapUsed, hostHeapTotal: m.heapTotal, workerRss: pids.map(rssOf), workerPss: pids.map(pssOf), fds: openFds() };
}

async function payload(c: Contender, kind: PayloadKind, reps: number): Promise<{ ms: number[]; mbPerS: number }> {
  const bytes = Buffer.alloc(BYTES, 7);
  const array = Float64Array.from({ length: ELEMENTS }, (_, i) => i);
  const once = async (): Promise<void> => {
    switch (kind) {
      case 'bytesTo':
        if ((await c.bytesTo(bytes)) !== BYTES) throw new Error('bytesTo: wrong length');
        return;
      case 'bytesFrom':
        if ((await c.bytesFrom(BYTES)).byteLength !== BYTES) throw new Error('bytesFrom: wrong length');
        return;
      case 'arrayTo':
        if ((await c.arrayTo(array)) !== ARRAY_SUM) throw new Error('arrayTo: wrong sum');
        return;
      case 'arrayFrom': {
        const got = await c.arrayFrom(ELEMENTS);
        if (got.length !== ELEMENTS || got[ELEMENTS - 1] !== ELEMENTS - 1) throw new Error('arrayFrom: wrong array');
        return;
      }
    }
  };
  await once();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  const size = kind.startsWith('bytes') ? BYTES : ELEMENTS * 8;
  return { ms, mbPerS: size / 2 ** 20 / (median(ms) / 1000) };
}

/** Milliseconds on the monotonic clock, without loading perf_hooks as `performance.now()` does. */
const clockMs = (): number => Number(process.hrtime.bigint()) / 1e6;

async function soak(c: Contender, total: number, every: number, inFlight: number): Promise<SoakSample[]> {
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  samples.push({ calls: 0, seconds: 0, ...memory(c) });
  for (let done = 0; done < total; ) {
    const n = Math.min(every, total - done);
    await throughput(() => c.add(1, 2), n, inFlight);
    done += n;
    samples.push({ calls: done, seconds: (performance.now() - t0) / 1000, ...memory(c) });
  }
  return samples;
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  const make = CONTENDERS[name];
  if (make === undefined) throw new Error(`unknown contender ${name}`);
  const c = make();
  let started = false;

  const handle = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'start': {
        // The package loads first (its load is measured apart, bench/lib/load.ts): start and memory
        // count from after it, the same way for every contender.
        await c.load?.();
        const before = memory(undefined);
        // Timed with hrtime, not `performance`: its first read loads Node's perf_hooks, which a
        // contender that uses it must pay for in its own start, as it would in an application.
        const t0 = clockMs();
        await c.start(req.workers);
        started = true;
        const readyMs = clockMs() - t0;
        if ((await c.add(1, 2)) !== 3) throw new Error('add(1, 2) did not return 3');
        const firstCallMs = clockMs() - t0;
        const answers = await Promise.all(Array.from({ length: req.workers }, () => c.add(1, 2)));
        if (answers.some((x) => x !== 3)) throw new Error('add(1, 2) did not return 3');
        const allAnsweredMs = clockMs() - t0;
        await throughput(() => c.add(1, 2), 500 * req.workers, 8 * req.workers);
        return { readyMs, firstCallMs, allAnsweredMs, before, after: memory(c) } satisfies StartResult;
      }
      case 'seq':
        return sequential(() => c.add(1, 2), req.n);
      case 'tp':
        return throughput(() => c.add(1, 2), req.n, req.inFlight);
      case 'payload':
        return payload(c, req.kind, req.reps);
      case 'memory':
        return memory(c);
      case 'pin':
        return pin([process.pid], req.host) && pin(c?.workerPids() ?? [], req.workers);
      case 'soak':
        return soak(c, req.total, req.every, req.inFlight);
      case 'stop':
        if (started) await c.stop();
        started = false;
        return null;
    }
  };

  process.on('message', (msg: { id: number } & Request) => {
    handle(msg).then(
      (value) => process.send!({ id: msg.id, ok: true, value }),
      (err: unknown) => process.send!({ id: msg.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
    );
  });
  process.on('disconnect', () => {
    void (started ? c.stop() : Promise.resolve()).finally(() => process.exit(0));
  });
  process.send!({ id: 0, ok: true, value: 'ready' });
}

await main();
