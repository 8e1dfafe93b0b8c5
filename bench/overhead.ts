/**
 * Per-call overhead of the pool against the raw framed-pipe baseline, measured side by side in one run.
 *
 *   node --import tsx bench/overhead.ts [--rounds 7] [--seq 2000] [--tp 10000] [--warmup 2000] [--pin both|same|split|none] [--diagnose] [--json FILE]
 *
 * Contenders, all alive for the whole run, each a single Python process calling work.add(a, b):
 *   raw          bench/raw_worker.py driven by bench/lib/raw.ts (same pipes and msgpackr framing, no pool)
 *   pool c1      Pool size 1, concurrency 1 (the default)
 *   pool c32     Pool size 1, concurrency 32
 * With --diagnose, two more raw contenders show what a thread hand-off per call costs on its own
 * (raw_worker.py --threads N: every call goes through a queue to one of N executor threads, as in the
 * Snakepit worker's handling of sync tools):
 *   raw+thr1     raw_worker.py --threads 1
 *   raw+thr32    raw_worker.py --threads 32
 *   raw host+sp worker  the raw host (bench/lib/raw.ts) driving a real Snakepit worker: against raw,
 *                the worker side of the pool's per-call cost alone; against pool c1, the host side
 * CPU time per call is also reported, for the host (process.cpuUsage) and for the worker process (all of
 * its threads, from /proc/<pid>/task/<tid>/schedstat), so that the cost of each side shows apart from
 * scheduling and wake-up latency.
 * Placement (--pin): a sequential round trip costs about three times as much when host and worker sit
 * on different CPUs as on the same one (waking an idle CPU, on a virtual machine especially), and
 * unpinned processes land either way from one measurement to the next, which swamps the difference
 * between contenders. So this process is pinned to CPU 0 (all of its threads, with taskset) and each
 * worker, before each of its measurements, to CPU 0 (`same`) or to CPU 1 (`split`, reported as
 * "<name> split"); `both` (the default) measures every contender in both placements; `none` pins
 * nothing. Needs taskset (util-linux) and 2 CPUs; without them it falls back to `none`.
 * Each round measures every contender once per placement, in an order that alternates between rounds;
 * the figures reported are the medians over the rounds. Targets: pool / raw <= 1.15 for the sequential
 * p50 and <= 1.05 for the time per call with 32 calls in flight.
 */

import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Pool } from './lib/library.js';
import { ADAPTER, PYTHON, compileBytecode, machineInfo } from './lib/env.js';
import { median, round, sequential, table, throughput, type Caller, type Latency } from './lib/measure.js';
import { cpuNsOf, pin } from './lib/procfs.js';
import { RawWorker } from './lib/raw.js';
import { SEQ_TARGET, TP_TARGET } from './lib/summary.js';
import type { Cpu, OverheadResults } from './lib/results.js';


const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    seq: { type: 'string', default: '2000' },
    tp: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '2000' },
    pin: { type: 'string', default: 'both' },
    diagnose: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const SEQ = Number(values.seq);
const TP = Number(values.tp);
const WARMUP = Number(values.warmup);

interface Contender {
  name: string;
  call: Caller;
  pid: number;
  /** The CPU its worker is pinned to before each measurement (undefined: not pinned). */
  cpu?: number;
}

type Placement = 'same' | 'split' | 'none';

/** The placements to measure, after pinning this process to CPU 0 when there are any. */
function placements(): Placement[] {
  const wanted = values.pin;
  if (!['both', 'same', 'split', 'none'].includes(wanted)) throw new Error(`--pin takes both, same, split or none; got ${wanted}`);
  if (wanted === 'none') return ['none'];
  if (os.availableParallelism() < 2 || !pin([process.pid], 0)) {
    console.log('(taskset or a second CPU is missing: nothing is pinned)');
    return ['none'];
  }
  return wanted === 'both' ? ['same', 'split'] : [wanted as Placement];
}



/** Run `fn` (which makes `calls` calls) and add the CPU µs per call of host and worker to `cpu`. */
async function withCpu<T>(pid: number, calls: number, cpu: Cpu, fn: () => Promise<T>): Promise<T> {
  const h0 = process.cpuUsage();
  const w0 = cpuNsOf(pid);
  const value = await fn();
  const h = process.cpuUsage(h0);
  cpu.host.push((h.user + h.system) / calls);
  cpu.worker.push((cpuNsOf(pid) - w0) / 1000 / calls);
  return value;
}

async function main(): Promise<void> {
  compileBytecode(); // as an installed package has it
  const m = machineInfo();
  console.log(`overhead: ${m.date}, ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, Python ${m.python}, load ${m.loadavg.join(' ')}`);
  console.log(`rounds ${ROUNDS}, sequential ${SEQ} calls, throughput ${TP} calls, warm-up ${WARMUP} calls each\n`);

  const raw = await RawWorker.start(PYTHON);
  const c1 = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, concurrency: 1 });
  const c32 = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, concurrency: 32 });
  const extra = values.diagnose ? [await RawWorker.start(PYTHON, 1), await RawWorker.start(PYTHON, 32), await RawWorker.startBridge(PYTHON)] : [];
  const args = { a: 1, b: 2 };
  const base: Contender[] = [
    { name: 'raw', call: () => raw.call('add', args), pid: raw.pid },
    { name: 'pool c1', call: () => c1.execute('add', args), pid: c1.stats().workerList[0]!.pid! },
    { name: 'pool c32', call: () => c32.execute('add', args), pid: c32.stats().workerList[0]!.pid! },
  ];
  const [thr1, thr32, bridge] = extra;
  if (thr1 && thr32 && bridge) {
    base.push({ name: 'raw+thr1', call: () => thr1.call('add', args), pid: thr1.pid });
    base.push({ name: 'raw+thr32', call: () => thr32.call('add', args), pid: thr32.pid });
    base.push({ name: 'raw host+sp worker', call: () => bridge.call('add', args), pid: bridge.pid });
  }
  const where = placements();
  const contenders: Contender[] = where.flatMap((p) =>
    base.map((c) => (p === 'none' ? c : { ...c, name: p === 'same' ? c.name : `${c.name} split`, cpu: p === 'same' ? 0 : 1 })),
  );
  const place = (c: Contender): void => {
    if (c.cpu !== undefined) pin([c.pid], c.cpu);
  };
  try {
    for (const c of contenders) {
      place(c);
      if ((await c.call()) !== 3) throw new Error(`${c.name}: add(1, 2) did not return 3`);
      await throughput(c.call, WARMUP, 32);
      await sequential(c.call, WARMUP);
    }

    const seq = new Map<string, Latency[]>(contenders.map((c) => [c.name, []]));
    const tp = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
    const seqCpu = new Map<string, Cpu>(contenders.map((c) => [c.name, { host: [], worker: [] }]));
    const tpCpu = new Map<string, Cpu>(contenders.map((c) => [c.name, { host: [], worker: [] }]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) {
        place(c);
        seq.get(c.name)!.push(await withCpu(c.pid, SEQ, seqCpu.get(c.name)!, () => sequential(c.call, SEQ)));
      }
      for (const c of order) {
        place(c);
        tp.get(c.name)!.push(await withCpu(c.pid, TP, tpCpu.get(c.name)!, () => throughput(c.call, TP, 32)));
      }
      if (process.stdout.isTTY) process.stdout.write(`round ${r + 1}/${ROUNDS} done\r`);
    }
    if (process.stdout.isTTY) process.stdout.write('\n');
    console.log('');

    const p = (name: string, key: 'p50' | 'p99'): number => median(seq.get(name)!.map((l) => l[key]));
    const t = (name: string): number => median(tp.get(name)!);
    /** The raw contender measured in the same placement as `name`. */
    const rawOf = (name: string): string => (name.endsWith(' split') ? 'raw split' : 'raw');
    const rows = contenders.map((c) => [
      c.name,
      round(p(c.name, 'p50')),
      round(p(c.name, 'p99')),
      round(p(c.name, 'p50') / p(rawOf(c.name), 'p50'), 2),
      round(p(c.name, 'p99') / p(rawOf(c.name), 'p99'), 2),
      Math.round(t(c.name)),
      round(t(rawOf(c.name)) / t(c.name), 2),
    ]);
    console.log(
      table(['contender', 'seq p50 µs', 'seq p99 µs', 'p50 / raw', 'p99 / raw', 'calls/s @32 in flight', 'raw / this (time per call)'], rows),
    );

    const cpuRows = contenders.map((c) => {
      const sc = seqCpu.get(c.name)!;
      const tc = tpCpu.get(c.name)!;
      return [c.name, round(median(sc.host)), round(median(sc.worker)), round(median(tc.host)), round(median(tc.worker))];
    });
    console.log('\nCPU time per call (µs), medians over the rounds');
    console.log(table(['contender', 'sequential: host', 'sequential: worker', '32 in flight: host', '32 in flight: worker'], cpuRows));

    const verdict = (x: number, target: number): string =>
      x <= target ? `met (${round(x, 2)}x <= ${target}x)` : `MISSED (${round(x, 2)}x > ${target}x)`;
    console.log('');
    for (const w of where) {
      const sfx = w === 'split' ? ' split' : '';
      const label = w === 'none' ? '' : w === 'same' ? ' (same CPU)' : ' (host and worker on different CPUs)';
      console.log(`sequential p50, pool c1 vs raw${label}: ${verdict(p(`pool c1${sfx}`, 'p50') / p(`raw${sfx}`, 'p50'), SEQ_TARGET)}`);
      console.log(`32 in flight, pool c32 vs raw (time per call)${label}: ${verdict(t(`raw${sfx}`) / t(`pool c32${sfx}`), TP_TARGET)}`);
    }
    if (values.json !== undefined) {
      const out: OverheadResults = {
        machine: m,
        params: { rounds: ROUNDS, seq: SEQ, tp: TP, warmup: WARMUP, inFlight: 32, pin: where.join(',') },
        contenders: Object.fromEntries(
          contenders.map((c) => [
            c.name,
            {
              p50: seq.get(c.name)!.map((l) => l.p50),
              p99: seq.get(c.name)!.map((l) => l.p99),
              callsPerS: tp.get(c.name)!,
              seqCpu: seqCpu.get(c.name)!,
              tpCpu: tpCpu.get(c.name)!,
            },
          ]),
        ),
      };
      writeFileSync(values.json, JSON.stringify(out, null, 2) + '\n');
    }
    const spread = (xs: number[]): string => `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;
    console.log(`\nthroughput range over rounds: ${contenders.map((c) => `${c.name} ${spread(tp.get(c.name)!)}`).join(', ')}`);
  } finally {
    await Promise.all([raw.close(), c1.close(), c32.close(), ...extra.map((w) => w.close())]);
  }
}

await main();
