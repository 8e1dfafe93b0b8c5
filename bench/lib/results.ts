/** The shape of a results file under bench/results/, written by bench/run.ts and read by bench/report.ts. */

import type { MachineInfo } from './env.js';
import type { PayloadKind, SoakSample } from './agent.js';


export interface ContenderInfo {
  binary: string;
  maxWorkers: number | null;
  workersNote?: string;
  inProcess: boolean;
}

export interface StartupFigures {
  /** Milliseconds from start to the first call's result, one per repetition. */
  firstCallMs: number[];
  /** Milliseconds from start until every worker has answered a call (absent in older results). */
  allAnsweredMs?: number[];
  readyMs: number[];
  /** Growth of the host (Node) process RSS per worker, MiB. */
  hostRssPerWorkerMiB: number[];
  /**
   * Mean RSS of one worker process, and PSS of all the contender's processes (a fork server's zygote
   * included) per worker, MiB (empty for in-process contenders).
   */
  workerRssMiB: number[];
  workerPssMiB: number[];
}

export type Cannot = { cannot: string };

export interface SoakFigures {
  calls: number;
  inFlight: number;
  workers: number;
  samples: SoakSample[];
  /** Least-squares slope per 100k calls, over the samples after the first 100k calls. */
  slopePer100k: { hostHeapUsedMiB: number; hostRssMiB: number; workerRssMiB: number; fds: number };
}

export interface Results {
  schema: 1;
  mode: 'quick' | 'full';
  machine: MachineInfo;
  /** Load average (1, 5, 15 min) when the run ended; the start's is in `machine`. */
  loadavgEnd?: number[];
  params: Record<string, number | number[]>;
  command: string;
  contenders: Record<string, ContenderInfo>;
  /** By contender, then by worker count. */
  startup: Record<string, Record<string, StartupFigures | Cannot>>;
  /**
   * Milliseconds to load the package in a fresh Node process, by contender, one per repetition
   * (bench/lib/load.ts; absent in older results).
   */
  load?: Record<string, number[]>;
  /** Sequential round trip on one worker, µs, one entry per round. */
  latency: Record<string, { p50: number[]; p99: number[] }>;
  /**
   * Placed with taskset: each contender's host and worker on one CPU for the sequential calls, on
   * two for the calls in flight on one worker (absent in older runs).
   */
  latencyPinned?: boolean;
  /** Calls per second with `inFlight` calls outstanding, by contender then worker count, one per round. */
  throughput: Record<string, Record<string, number[] | Cannot>>;
  inFlight: number;
  /** Milliseconds per transfer, by kind then contender. */
  payload: Record<PayloadKind, Record<string, { ms: number[] } | Cannot>>;
  soak?: SoakFigures;
  /** The per-call overhead diagnostic (bench/overhead.ts --diagnose), run as part of this run. */
  overhead?: OverheadResults;
  /** Instructions per call of each worker, counted by valgrind (bench/worker_cost.py; full runs with valgrind). */
  workerCost?: WorkerCostResults;
  /** Contenders that could not be started, with the error. */
  failed: Record<string, string>;
  durationS: number;
}

/** CPU µs per call, one entry per round. */
export interface Cpu {
  host: number[];
  worker: number[];
}

/** What bench/overhead.ts --json writes: per contender, one entry per round. */
export interface OverheadResults {
  machine: MachineInfo;
  params: { rounds: number; seq: number; tp: number; warmup: number; inFlight: number; pin?: string };
  contenders: Record<string, { p50: number[]; p99: number[]; callsPerS: number[]; seqCpu: Cpu; tpCpu: Cpu }>;
}

/** What bench/worker_cost.py --json writes. */
export interface WorkerCostResults {
  calls: number;
  /** By contender: instructions per call of the thread that serves the calls. */
  instructionsPerCall: Record<string, number>;
}

export function isCannot(x: unknown): x is Cannot {
  return typeof x === 'object' && x !== null && 'cannot' in x;
}

export const MiB = 2 ** 20;
