/**
 * The comparison suite: Snakepit against its peers (python-shell, pythonia, node-calls-python) and the
 * raw framed-pipe baseline, on the same machine in the same run. Every contender runs in its own Node
 * process (bench/lib/agent.ts); measurements alternate between contenders round by round.
 *
 *   node --import tsx bench/run.ts            quick (about a minute or two)
 *   node --import tsx bench/run.ts --full     everything, including the 30,000,000-call soak; also
 *                                             regenerates docs/benchmarks.md and docs/benchmarks.svg
 *
 * Both end with the per-call overhead diagnostic (bench/overhead.ts --diagnose), whose figures go into
 * the same results file; a full run on a machine with valgrind also counts each worker's instructions
 * per call (bench/worker_cost.py). Writes bench/results/<date>-<mode>.json and prints the tables.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { PayloadKind, SoakSample, StartResult } from './lib/agent.js';
import { CONTENDERS } from './lib/contenders/index.js';
import { Agent, warmCodeCache } from './lib/driver.js';
import { measureLoad, PACKAGE_LOADS } from './lib/load.js';
import { BENCH_DIR, compileBytecode, machineInfo, PYTHON } from './lib/env.js';
import { linearFit, type Latency } from './lib/measure.js';
import { isCannot, MiB, type Cannot, type Results, type SoakFigures, type StartupFigures } from './lib/results.js';
import { writeReport } from './report.js';
import { soakSettle } from './lib/summary.js';
import { printTables } from './lib/tables.js';

const { values } = parseArgs({ options: { full: { type: 'boolean', default: false }, out: { type: 'string' } } });
const FULL = values.full === true;

const params = FULL
  ? { startupReps: 9, rounds: 7, seq: 3000, tp: 20000, warmup: 3000, payloadReps: 3, scalingRounds: 7, soakCalls: 30_000_000, soakEvery: 1_500_000, soakSettle: 1_500_000 }
  : { startupReps: 1, rounds: 3, seq: 1000, tp: 5000, warmup: 1000, payloadReps: 2, scalingRounds: 3, soakCalls: 0, soakEvery: 0, soakSettle: 0 };
const IN_FLIGHT = 32;
const STARTUP_WORKERS = [1, 4, 16];
/** Worker counts of the scaling phase: powers of two up to the CPUs (1 to 16 on a 16-core machine). */
const SCALING_WORKERS = [1, 2, 4, 8, 16].filter((n) => n <= Math.max(2, os.availableParallelism()));

/** Contenders of each phase. `snakepit` is the default configuration (concurrency 1 per worker). */
const STARTUP = [
  'snakepit',
  'snakepit cold',
  'snakepit minReady 1',
  'snakepit forkserver',
  'snakepit forkserver minReady 1',
  'snakepit forkserver cold',
  'raw pipe',
  'python-shell',
  'pythonia',
  'node-calls-python',
];
const ONE_WORKER = ['snakepit', 'snakepit c32', 'raw pipe', 'python-shell', 'pythonia', 'node-calls-python'];
const PAYLOAD = ['snakepit', 'raw pipe', 'python-shell', 'pythonia', 'node-calls-python'];
const SCALING = ['snakepit c32', 'raw pipe', 'python-shell', 'pythonia', 'node-calls-python'];
const KINDS: PayloadKind[] = ['bytesTo', 'bytesFrom', 'arrayTo', 'arrayFrom'];

const caps = (name: string) => CONTENDERS[name]!().caps;
const rotate = <T>(xs: T[], r: number): T[] => xs.map((_, i) => xs[(i + r) % xs.length]!);
const log = (msg: string): void => console.log(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
const T0 = performance.now();

async function withAgent<T>(name: string, fn: (a: Agent) => Promise<T>): Promise<T> {
  const agent = new Agent(name);
  try {
    return await fn(agent);
  } finally {
    await agent.close();
  }
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

async function startupPhase(results: Results): Promise<void> {
  for (const name of STARTUP) results.startup[name] = {};
  const load: Record<string, number[]> = (results.load = {});
  for (let rep = 0; rep < params.startupReps; rep++) {
    for (const name of rotate(Object.keys(PACKAGE_LOADS), rep)) (load[name] ??= []).push(measureLoad(name));
    for (const n of STARTUP_WORKERS) {
      for (const name of rotate(STARTUP, rep + n)) {
        const c = caps(name);
        if (n > c.maxWorkers) {
          results.startup[name]![n] = { cannot: c.workersNote ?? `at most ${c.maxWorkers} worker(s)` };
          continue;
        }
        let r: StartResult;
        try {
          r = await withAgent(name, (a) => a.request<StartResult>({ op: 'start', workers: n }));
        } catch (err) {
          results.startup[name]![n] = { cannot: `failed: ${firstLine(err)}` };
          log(`startup ${name} x${n} FAILED: ${firstLine(err)}`);
          continue;
        }
        const fig = (results.startup[name]![n] ??= {
          firstCallMs: [],
          allAnsweredMs: [],
          readyMs: [],
          hostRssPerWorkerMiB: [],
          workerRssMiB: [],
          workerPssMiB: [],
        }) as StartupFigures;
        fig.firstCallMs.push(r.firstCallMs);
        fig.allAnsweredMs?.push(r.allAnsweredMs);
        fig.readyMs.push(r.readyMs);
        fig.hostRssPerWorkerMiB.push((r.after.hostRss - r.before.hostRss) / n / MiB);
        if (r.after.workerRss.length > 0) {
          // A fork-server pool lists its zygote after its workers: RSS is a worker's, PSS every
          // process's (the zygote's pages too) spread over the workers.
          fig.workerRssMiB.push(mean(r.after.workerRss.slice(0, n)) / MiB);
          fig.workerPssMiB.push(r.after.workerPss.reduce((a, b) => a + b, 0) / n / MiB);
        }
        log(`startup ${name} x${n}: first call after ${r.firstCallMs.toFixed(0)} ms, every worker after ${r.allAnsweredMs.toFixed(0)} ms`);
      }
    }
  }
}

async function oneWorkerPhase(results: Results, agents: Map<string, Agent>): Promise<void> {
  const live = ONE_WORKER.filter((n) => agents.has(n));
  for (const name of live) {
    const agent = agents.get(name)!;
    await agent.request({ op: 'tp', n: params.warmup, inFlight: IN_FLIGHT });
    await agent.request({ op: 'seq', n: params.warmup });
    results.latency[name] = { p50: [], p99: [] };
    results.throughput[name] = { '1': [] };
  }
  // Each contender's processes are placed before each measurement: unpinned, a round trip lands on one
  // CPU or across two from one measurement to the next (about 16 against 45 µs here), which decided
  // the ratios more than the contenders did. One call at a time: host and worker on one CPU; calls in
  // flight: the host on one, the worker on the other (both are busy then).
  const pinnable = os.availableParallelism() >= 2;
  let pinned = pinnable;
  const place = async (agent: Agent, host: number | null, workers: number | null): Promise<void> => {
    if (pinnable) pinned = (await agent.request<boolean>({ op: 'pin', host, workers })) && pinned;
  };
  for (let r = 0; r < params.rounds; r++) {
    const order = rotate(live, r);
    for (const name of order) {
      const agent = agents.get(name)!;
      await place(agent, 0, 0);
      const l = await agent.request<Latency>({ op: 'seq', n: params.seq });
      results.latency[name]!.p50.push(l.p50);
      results.latency[name]!.p99.push(l.p99);
    }
    for (const name of order) {
      const agent = agents.get(name)!;
      await place(agent, 0, 1);
      const t = await agent.request<number>({ op: 'tp', n: params.tp, inFlight: IN_FLIGHT });
      await place(agent, null, null);
      (results.throughput[name]!['1'] as number[]).push(t);
    }
    log(`latency and throughput, round ${r + 1}/${params.rounds}`);
  }
  results.latencyPinned = pinned;
}

async function payloadPhase(results: Results, agents: Map<string, Agent>): Promise<void> {
  const names = PAYLOAD.filter((n) => agents.has(n));
  for (const kind of KINDS) {
    results.payload[kind] = {};
    for (const name of names) results.payload[kind][name] = { ms: [] };
  }
  for (let r = 0; r < params.rounds; r++) {
    for (const kind of KINDS) {
      for (const name of rotate(names, r)) {
        const entry = results.payload[kind][name]!;
        if (isCannot(entry)) continue;
        try {
          const got = await agents.get(name)!.request<{ ms: number[] }>({ op: 'payload', kind, reps: params.payloadReps });
          entry.ms.push(...got.ms);
        } catch (err) {
          results.payload[kind][name] = { cannot: `failed: ${firstLine(err)}` };
        }
      }
    }
    log(`bulk data, round ${r + 1}/${params.rounds}`);
  }
}

async function scalingPhase(results: Results, agents: Map<string, Agent>): Promise<void> {
  const sets = new Map<string, Map<number, Agent>>();
  try {
    for (const name of SCALING.filter((n) => agents.has(n))) {
      const byN = new Map<number, Agent>();
      sets.set(name, byN);
      for (const n of SCALING_WORKERS) {
        if (n > caps(name).maxWorkers) {
          results.throughput[name]![`scaling:${n}`] = { cannot: caps(name).workersNote ?? '' } satisfies Cannot;
          continue;
        }
        if (n === 1) {
          byN.set(1, agents.get(name)!);
        } else {
          const agent = new Agent(name);
          try {
            await agent.request({ op: 'start', workers: n });
            await agent.request({ op: 'tp', n: params.warmup, inFlight: IN_FLIGHT * n });
          } catch (err) {
            await agent.close();
            results.throughput[name]![`scaling:${n}`] = { cannot: `failed: ${firstLine(err)}` };
            continue;
          }
          byN.set(n, agent);
        }
        results.throughput[name]![`scaling:${n}`] = [];
      }
    }
    for (let r = 0; r < params.scalingRounds; r++) {
      for (const name of rotate([...sets.keys()], r)) {
        for (const [n, agent] of sets.get(name)!) {
          // The same load per worker at every count: IN_FLIGHT calls in flight per worker.
          const t = await agent.request<number>({ op: 'tp', n: params.tp * n, inFlight: IN_FLIGHT * n });
          (results.throughput[name]![`scaling:${n}`] as number[]).push(t);
        }
      }
      log(`scaling, round ${r + 1}/${params.scalingRounds}`);
    }
  } finally {
    for (const byN of sets.values()) for (const [n, agent] of byN) if (n !== 1) await agent.close();
  }
}

function slope(samples: SoakSample[], y: (s: SoakSample) => number): number {
  return linearFit(samples.map((s) => s.calls / 100_000), samples.map(y)).slope;
}

async function soakPhase(results: Results): Promise<void> {
  const workers = 1;
  const samples = await withAgent('snakepit c32', async (a) => {
    await a.request({ op: 'start', workers });
    log(`soak: ${params.soakCalls} calls, ${IN_FLIGHT} in flight`);
    return a.request<SoakSample[]>({ op: 'soak', total: params.soakCalls, every: params.soakEvery, inFlight: IN_FLIGHT }, 1_800_000);
  });
  const settled = samples.filter((s) => s.calls >= soakSettle(results));
  const soak: SoakFigures = {
    calls: params.soakCalls,
    inFlight: IN_FLIGHT,
    workers,
    samples,
    slopePer100k: {
      hostHeapUsedMiB: slope(settled, (s) => s.hostHeapUsed / MiB),
      hostRssMiB: slope(settled, (s) => s.hostRss / MiB),
      workerRssMiB: slope(settled, (s) => (s.workerRss[0] ?? NaN) / MiB),
      fds: slope(settled, (s) => s.fds),
    },
  };
  results.soak = soak;
  log(`soak done in ${samples.at(-1)!.seconds.toFixed(1)} s`);
}

/**
 * Run `command args... --json <file>` and read the file it wrote; undefined (logged) when it failed.
 * The diagnostics below run this way, each in a process of its own.
 */
async function jsonOf<T>(label: string, command: string, args: string[]): Promise<T | undefined> {
  const file = path.join(os.tmpdir(), `snakepit-bench-${process.pid}-${Date.now()}.json`);
  log(label);
  const child = spawn(command, [...args, '--json', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve).once('error', () => resolve(null)));
  if (code !== 0) {
    log(`${label}: left out (exit code ${code})`);
    return undefined;
  }
  const value = JSON.parse(readFileSync(file, 'utf8')) as T;
  rmSync(file, { force: true });
  return value;
}

async function overheadPhase(results: Results): Promise<void> {
  const args = ['--import', 'tsx', path.join(BENCH_DIR, 'overhead.ts'), '--diagnose'];
  args.push('--rounds', String(params.rounds), '--seq', String(params.seq), '--tp', String(params.tp), '--warmup', String(params.warmup));
  results.overhead = await jsonOf('overhead diagnostic (bench/overhead.ts --diagnose)', process.execPath, args);
}

/** Instructions per call of each worker (bench/worker_cost.py); left out where valgrind is missing. */
async function workerCostPhase(results: Results): Promise<void> {
  const label = 'worker instructions per call (bench/worker_cost.py, under valgrind)';
  results.workerCost = await jsonOf(label, PYTHON, [path.join(BENCH_DIR, 'worker_cost.py')]);
}

async function main(): Promise<void> {
  const machine = machineInfo();
  compileBytecode();
  await warmCodeCache();
  const results: Results = {
    schema: 1,
    mode: FULL ? 'full' : 'quick',
    machine,
    params: { ...params, inFlight: IN_FLIGHT, scalingWorkers: SCALING_WORKERS },
    command: `npm run ${FULL ? 'bench:full' : 'bench'}`,
    contenders: Object.fromEntries(
      ONE_WORKER.map((n) => {
        const c = caps(n);
        return [n, { binary: c.binary, maxWorkers: Number.isFinite(c.maxWorkers) ? c.maxWorkers : null, workersNote: c.workersNote, inProcess: c.inProcess }];
      }),
    ),
    startup: {},
    latency: {},
    throughput: {},
    inFlight: IN_FLIGHT,
    payload: {} as Results['payload'],
    failed: {},
    durationS: 0,
  };
  log(`${results.mode} run on ${machine.cpus} CPUs (${machine.cpuModel}), load ${machine.loadavg.join(' ')}`);

  await startupPhase(results);
  const agents = new Map<string, Agent>();
  try {
    for (const name of ONE_WORKER) {
      const agent = new Agent(name);
      try {
        await agent.request({ op: 'start', workers: 1 });
        agents.set(name, agent);
      } catch (err) {
        results.failed[name] = firstLine(err);
        log(`${name} FAILED to start; left out: ${firstLine(err)}`);
        await agent.close();
      }
    }
    await oneWorkerPhase(results, agents);
    await payloadPhase(results, agents);
    await scalingPhase(results, agents);
  } finally {
    for (const agent of agents.values()) await agent.close();
  }
  await overheadPhase(results);
  if (FULL) await workerCostPhase(results);
  if (FULL) await soakPhase(results);
  results.durationS = Math.round((performance.now() - T0) / 1000);
  results.loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);

  const dir = path.join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  const file = values.out ?? path.join(dir, `${machine.date.slice(0, 19).replace(/:/g, '-')}-${results.mode}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log('');
  printTables(results);
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (FULL) {
    const written = writeReport(results, path.relative(path.join(BENCH_DIR, '..'), file));
    console.log(`report: ${written.join(', ')}`);
  }
}

await main();
