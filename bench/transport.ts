/**
 * The pipe and socket transports side by side, against the raw framed pipe, in one run:
 *
 *   node --import tsx bench/transport.ts [--rounds 5] [--seq 2000] [--tp 10000]
 *
 * Contenders, each a single Python process calling work.add(a, b): raw (bench/lib/raw.ts), and a pool
 * of size 1 over each transport with concurrency 1 (sequential latency) and 32 (throughput with 32
 * calls in flight). Medians over the rounds; each round alternates the order.
 */

import { parseArgs } from 'node:util';
import { Pool } from './lib/library.js';
import { ADAPTER, PYTHON, machineInfo } from './lib/env.js';
import { median, round, sequential, table, throughput, type Caller } from './lib/measure.js';
import { RawWorker } from './lib/raw.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seq: { type: 'string', default: '2000' },
    tp: { type: 'string', default: '10000' },
  },
});
const ROUNDS = Number(values.rounds);
const SEQ = Number(values.seq);
const TP = Number(values.tp);

async function main(): Promise<void> {
  const m = machineInfo();
  console.log(`transport: ${m.date}, ${m.cpus} CPUs, Node ${m.node}, Python ${m.python}, load ${m.loadavg.join(' ')}`);
  const raw = await RawWorker.start(PYTHON);
  const pools: Record<string, Pool> = {};
  for (const transport of ['pipe', 'socket'] as const) {
    pools[`${transport} c1`] = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, concurrency: 1, transport });
    pools[`${transport} c32`] = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, concurrency: 32, transport });
  }
  const args = { a: 1, b: 2 };
  const contenders: { name: string; call: Caller }[] = [
    { name: 'raw', call: () => raw.call('add', args) },
    ...Object.entries(pools).map(([name, pool]) => ({ name, call: () => pool.execute('add', args) })),
  ];
  try {
    for (const c of contenders) {
      await throughput(c.call, 2000, 32);
      await sequential(c.call, 2000);
    }
    const seq = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    const tp = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) if (!c.name.endsWith('c32')) seq.get(c.name)!.push((await sequential(c.call, SEQ)).p50);
      for (const c of order) if (!c.name.endsWith('c1')) tp.get(c.name)!.push(await throughput(c.call, TP, 32));
    }
    const rows: (string | number)[][] = [];
    const rawSeq = median(seq.get('raw')!);
    const rawTp = median(tp.get('raw')!);
    for (const transport of ['pipe', 'socket']) {
      const s = median(seq.get(`${transport} c1`)!);
      const t = median(tp.get(`${transport} c32`)!);
      rows.push([transport, round(s), round(s / rawSeq, 2), Math.round(t), round(rawTp / t, 2)]);
    }
    console.log(table(['transport', 'seq p50 µs', 'p50 / raw', 'calls/s @32', 'raw / this (time per call)'], rows));
    console.log(`raw: seq p50 ${round(rawSeq)} µs, ${Math.round(rawTp)} calls/s @32`);
  } finally {
    await raw.close();
    await Promise.all(Object.values(pools).map((p) => p.close()));
  }
}

await main();
