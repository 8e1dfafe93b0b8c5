/**
 * Serving benchmarks, each against its baseline in the same run:
 *   1. a one-row scikit-learn predict at 256 concurrent callers: batched tool vs the same model
 *      called one row per call (throughput and p99);
 *   2. a cached call's latency on the host vs the same call uncached;
 *   3. the gateway at 64 concurrent HTTP clients (keep-alive) vs 64 concurrent `pool.execute` callers;
 *   4. tenant fairness: tenant B's latency (one 5 ms call every 10 ms) while tenant A floods the pool
 *      with 10,000 calls, against B's latency on the idle pool (goal: p99 within 3x).
 *
 *   npm run build && node --import tsx bench/serving.ts [--seconds 3] [--workers 2]
 */

import { writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, PYTHON, compileBytecode, machineInfo } from './lib/env.js';
import { Pool, createGateway } from './lib/library.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, workers: { type: 'string', default: '2' } } });
const seconds = Number(values.seconds);
const workers = Number(values.workers);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
}

/** `callers` closed-loop callers for `ms`: calls per second and latency percentiles (ms). */
async function load(callers: number, ms: number, call: (i: number) => Promise<unknown>): Promise<{ perSec: number; p50: number; p99: number; calls: number }> {
  const lat: number[] = [];
  const end = performance.now() + ms;
  let n = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await call(n++);
        lat.push(performance.now() - t0);
      }
    }),
  );
  return { perSec: lat.length / (ms / 1000), p50: pct(lat, 0.5), p99: pct(lat, 0.99), calls: lat.length };
}

const fmt = (x: number, d = 1): string => x.toFixed(d);

/** Tenant B's latency, idle and while tenant A floods the pool (2 workers, fair selection on). */
async function fairness(): Promise<{ idleP99: number; floodP99: number; idleP50: number; floodP50: number; floodCallsDone: number }> {
  const pool = await Pool.start({ adapter: path.join(BENCH_DIR, 'serving_adapter.py'), size: 2, python: PYTHON, maxQueue: 100_000, tenants: { '*': {} } });
  const call = async (tenant: string): Promise<number> => {
    const t0 = performance.now();
    await pool.execute('sleep', { ms: 5 }, { tenant });
    return performance.now() - t0;
  };
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const idle: number[] = [];
  for (let i = 0; i < 300; i++) {
    idle.push(await call('b'));
    await pause(10);
  }
  let aDone = 0;
  const stop = new AbortController();
  const flood = Array.from({ length: 10_000 }, () => pool.execute('sleep', { ms: 5 }, { tenant: 'a', signal: stop.signal }).then(() => aDone++, () => undefined));
  const loaded: number[] = [];
  for (let i = 0; i < 300; i++) {
    await pause(10);
    loaded.push(await call('b'));
  }
  stop.abort();
  await Promise.all(flood);
  await pool.close();
  return { idleP99: pct(idle, 0.99), floodP99: pct(loaded, 0.99), idleP50: pct(idle, 0.5), floodP50: pct(loaded, 0.5), floodCallsDone: aDone };
}

async function main(): Promise<void> {
  compileBytecode();
  const pool = await Pool.start({ adapter: path.join(BENCH_DIR, 'serving_adapter.py'), size: workers, python: PYTHON, maxQueue: 100_000 });
  const row = (i: number): number[] => Array.from({ length: 16 }, (_, j) => ((i * 31 + j * 7) % 13) / 6 - 1);
  const results: Record<string, unknown> = { machine: machineInfo(), workers, seconds };

  // 1. Batching.
  await load(256, 500, (i) => pool.execute('predict_one', { x: row(i) }));
  await load(256, 500, (i) => pool.execute('predict', { x: row(i) }));
  const unbatched = await load(256, seconds * 1000, (i) => pool.execute('predict_one', { x: row(i) }));
  const batched = await load(256, seconds * 1000, (i) => pool.execute('predict', { x: row(i) }));
  const b = pool.stats().serving!.batches.predict!;
  const meanBatch = b.calls / b.batches;
  results.batching = { unbatched, batched, meanBatchSize: meanBatch, throughputRatio: batched.perSec / unbatched.perSec, p99Ratio: batched.p99 / unbatched.p99 };
  console.log(`\n1. one-row predict, 256 concurrent callers, ${workers} workers`);
  console.log(`   unbatched ${fmt(unbatched.perSec, 0)} calls/s  p50 ${fmt(unbatched.p50)} ms  p99 ${fmt(unbatched.p99)} ms`);
  console.log(`   batched   ${fmt(batched.perSec, 0)} calls/s  p50 ${fmt(batched.p50)} ms  p99 ${fmt(batched.p99)} ms  (mean batch ${fmt(meanBatch)})`);
  console.log(`   throughput ${fmt(batched.perSec / unbatched.perSec, 2)}x (goal >= 5x), p99 ${fmt(batched.p99 / unbatched.p99, 2)}x (goal <= 1x)`);

  // 2. Cache: sequential calls, one awaited at a time.
  const seq = async (n: number, call: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await call();
    return ((performance.now() - t0) * 1000) / n;
  };
  await pool.execute('lookup', { key: 'k' });
  await seq(20_000, () => pool.execute('lookup', { key: 'k' }));
  const hitUs = await seq(200_000, () => pool.execute('lookup', { key: 'k' }));
  const missUs = await seq(5_000, () => pool.execute('echo', { value: 'k' }));
  results.cache = { hitUs, uncachedUs: missUs, ratio: hitUs / missUs };
  console.log(`\n2. cached call ${fmt(hitUs, 2)} us per call (goal <= 10 us), uncached ${fmt(missUs, 1)} us: ${fmt(hitUs / missUs, 3)}x`);

  // 3. Gateway at 64 concurrent HTTP clients vs 64 concurrent direct callers.
  const gateway = createGateway(pool);
  const server = createServer(gateway);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({ value: 'hello' });
  const http = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/tools/echo', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  await load(64, 500, http);
  const direct = await load(64, seconds * 1000, () => pool.execute('echo', { value: 'hello' }));
  const viaHttp = await load(64, seconds * 1000, http);
  results.gateway = { direct, http: viaHttp, throughputRatio: viaHttp.perSec / direct.perSec, p50Ratio: viaHttp.p50 / direct.p50 };
  console.log(`\n3. 64 concurrent callers: direct ${fmt(direct.perSec, 0)} calls/s p50 ${fmt(direct.p50, 2)} ms; HTTP gateway ${fmt(viaHttp.perSec, 0)} calls/s p50 ${fmt(viaHttp.p50, 2)} ms`);
  console.log(`   gateway throughput ${fmt(viaHttp.perSec / direct.perSec, 2)}x of direct, p50 ${fmt(viaHttp.p50 / direct.p50, 2)}x`);
  agent.destroy();
  server.close();
  await pool.close();

  // 4. Tenant fairness.
  results.fairness = await fairness();
  const f = results.fairness as Awaited<ReturnType<typeof fairness>>;
  console.log(`\n4. tenant B, one 5 ms call every 10 ms: p99 ${fmt(f.idleP99, 2)} ms on the idle pool, ${fmt(f.floodP99, 2)} ms while A floods: ${fmt(f.floodP99 / f.idleP99, 2)}x (goal <= 3x)`);
  const file = path.join(BENCH_DIR, 'results', `serving-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
}

await main();
