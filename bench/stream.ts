/**
 * Streams of small chunks: chunks per second through `pool.stream` against the raw framed pipe
 * (bench/stream_raw.py) sending the same chunks, side by side in one run, rounds interleaved,
 * medians reported. Target: the pool at least 0.8 of the raw pipe.
 *
 *   npm run build && node --import tsx bench/stream.ts [--rounds 5] [--chunks 200000]
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import { BENCH_DIR, PYTHON, machineInfo } from './lib/env.js';
import { Pool } from './lib/library.js';
import { median, table } from './lib/measure.js';

const TARGET = 0.8;
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, chunks: { type: 'string', default: '200000' } },
});
const rounds = Number(values.rounds);
const chunks = Number(values.chunks);

/** One raw process; `count(n)` resolves with the number of chunks received once the end frame arrives. */
function rawStreamer(): { count(n: number): Promise<number>; close(): void } {
  const packr = new Packr({ useRecords: false });
  const child = spawn(PYTHON, [path.join(BENCH_DIR, 'stream_raw.py')], { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'] });
  const out = child.stdio[3] as Writable;
  let rest: Buffer | null = null;
  let received = 0;
  let done: ((n: number) => void) | undefined;
  (child.stdio[4] as Readable).on('data', (chunk: Buffer) => {
    const data = rest ? Buffer.concat([rest, chunk]) : chunk;
    let off = 0;
    while (data.length - off >= 4) {
      const n = data.readUInt32BE(off);
      if (data.length - off - 4 < n) break;
      const msg = packr.unpack(data.subarray(off + 4, off + 4 + n)) as unknown[];
      off += 4 + n;
      if (msg[0] === 23) received++;
      else if (msg[0] === 24) done?.(received);
    }
    rest = off < data.length ? data.subarray(off) : null;
  });
  let id = 0;
  return {
    count(n: number) {
      received = 0;
      const body = packr.pack([1, ++id, 'count', { n }, null, null, 0]);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      out.write(Buffer.concat([header, body]));
      return new Promise((resolve) => (done = resolve));
    },
    close: () => child.kill(),
  };
}

async function timed(run: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  const n = await run();
  if (n !== chunks) throw new Error(`expected ${chunks} chunks, got ${n}`);
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const m = machineInfo();
  console.log(`stream benchmark: ${JSON.stringify(m)}`);
  console.log(`${rounds} interleaved rounds of ${chunks} chunks (small integers), medians`);
  const raw = rawStreamer();
  const pool = await Pool.start({ adapter: path.join(BENCH_DIR, 'stream_adapter.py'), size: 1, python: PYTHON });
  const consume = async (window: number) => {
    let n = 0;
    for await (const _ of pool.stream('count', { n: chunks }, { window })) n++;
    return n;
  };
  await raw.count(10_000);
  await consume(64);
  const rates: Record<string, number[]> = { raw: [], 'pool, window 64 (default)': [], 'pool, window 256': [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['raw', 'w64', 'w256'] : ['w256', 'w64', 'raw'];
    for (const which of order) {
      if (which === 'raw') rates.raw!.push(await timed(() => raw.count(chunks)));
      else if (which === 'w64') rates['pool, window 64 (default)']!.push(await timed(() => consume(64)));
      else rates['pool, window 256']!.push(await timed(() => consume(256)));
    }
  }
  raw.close();
  await pool.close();
  const rawRate = median(rates.raw!);
  const rows = Object.entries(rates).map(([name, xs]) => [name, String(Math.round(median(xs))), (median(xs) / rawRate).toFixed(2)]);
  console.log(table(['contender', 'chunks/s', 'vs raw'], rows));
  for (const name of ['pool, window 64 (default)', 'pool, window 256']) {
    const ratio = median(rates[name]!) / rawRate;
    console.log(`${name}: ${ratio >= TARGET ? 'MET' : 'MISSED'} (${ratio.toFixed(2)} of the raw pipe, target >= ${TARGET})`);
  }
}

await main();
