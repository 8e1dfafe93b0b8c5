/**
 * A results file of bench/run.ts summarised: medians by contender (and worker count), the targets, and
 * the helpers that format figures and ratios. bench/lib/tables.ts builds the tables from it and
 * bench/report.ts the page docs/benchmarks.md.
 */

import type { PayloadKind } from './agent.js';
import { median, round } from './measure.js';
import { isCannot, type Results, type StartupFigures } from './results.js';

export const TARGET = 1.2;
/** Per-call overhead against the raw pipe, in the pinned measurement (bench/overhead.ts). */
export const SEQ_TARGET = 1.15;
export const TP_TARGET = 1.05;
export const PEERS = ['raw pipe', 'python-shell', 'pythonia', 'node-calls-python'];

/**
 * Soak samples before this many calls are its warm-up, left out of the slopes (runs before it was
 * recorded: 100k). The host's RSS moves by several MiB from one sample to the next as V8 resizes its
 * old space, and takes about a million calls to settle; the heap itself is flat from the start.
 */
export function soakSettle(r: Results): number {
  const p = r.params.soakSettle;
  return typeof p === 'number' && p > 0 ? p : 100_000;
}
export const KIND_LABEL: Record<PayloadKind, string> = {
  bytesTo: '1 MiB bytes, host to worker',
  bytesFrom: '1 MiB bytes, worker to host',
  arrayTo: '1e6 float64, host to worker',
  arrayFrom: '1e6 float64, worker to host',
};
export const KINDS = Object.keys(KIND_LABEL) as PayloadKind[];

export type Cell = number | string;
/** A row of the ratio table for a start or memory figure, with the figure and the way workers start. */
export interface StartRow {
  measure: string;
  mode: string;
  cells: Cell[];
}
/** A figure, or why it is missing. */
export type Fig = number | { cannot: string } | undefined;

export interface Summary {
  seqP50: Record<string, Fig>;
  seqP99: Record<string, Fig>;
  tp1: Record<string, Fig>;
  /** calls/s and efficiency (calls/s(N) / (N x calls/s(1))) by worker count. */
  scaling: Record<string, { tp: Record<number, Fig>; efficiency: Record<number, Fig> }>;
  scalingCounts: number[];
  payload: Record<PayloadKind, Record<string, Fig>>;
  /** Loading the package in a fresh Node process, ms (every start of the contender, any worker count). */
  load: Record<string, Fig>;
  firstCall: Record<string, Record<string, Fig>>;
  allAnswered: Record<string, Record<string, Fig>>;
  hostPerWorker: Record<string, Record<string, Fig>>;
  workerRss: Record<string, Record<string, Fig>>;
  workerPss: Record<string, Record<string, Fig>>;
}

/** Worker counts of the scaling phase (runs before they were recorded measured 1 and 2). */
export function scalingCounts(r: Results): number[] {
  const counts = r.params.scalingWorkers;
  return Array.isArray(counts) ? counts : [1, 2];
}

/** How the scaling phase loaded the workers (runs before it was recorded kept 32 in flight in all). */
export function scalingLoad(r: Results): string {
  return Array.isArray(r.params.scalingWorkers) ? `${r.inFlight} in flight per worker` : `${r.inFlight} in flight`;
}

const med = (xs: number[] | undefined): Fig => (xs && xs.length > 0 ? median(xs) : undefined);
export const num = (f: Fig): number | undefined => (typeof f === 'number' && Number.isFinite(f) ? f : undefined);

export function summarize(r: Results): Summary {
  const names = [...new Set([...Object.keys(r.contenders), ...Object.keys(r.startup)])];
  const s: Summary = {
    seqP50: {},
    seqP99: {},
    tp1: {},
    scaling: {},
    scalingCounts: scalingCounts(r),
    payload: { bytesTo: {}, bytesFrom: {}, arrayTo: {}, arrayFrom: {} },
    load: {},
    firstCall: {},
    allAnswered: {},
    hostPerWorker: {},
    workerRss: {},
    workerPss: {},
  };
  for (const [name, ms] of Object.entries(r.load ?? {})) s.load[name] = med(ms);
  for (const name of names) {
    s.seqP50[name] = med(r.latency[name]?.p50);
    s.seqP99[name] = med(r.latency[name]?.p99);
    const tp = r.throughput[name] ?? {};
    s.tp1[name] = med(tp['1'] as number[] | undefined);
    const sc = (n: number): Fig => {
      const v = tp[`scaling:${n}`];
      return isCannot(v) ? v : med(v);
    };
    const tpByN: Record<number, Fig> = {};
    const effByN: Record<number, Fig> = {};
    for (const n of s.scalingCounts) tpByN[n] = sc(n);
    const one = num(tpByN[1]);
    for (const n of s.scalingCounts.filter((x) => x > 1)) {
      const at = tpByN[n];
      effByN[n] = one !== undefined && num(at) !== undefined ? num(at)! / (n * one) : isCannot(at) ? at : undefined;
    }
    if (Object.values(tpByN).some((v) => v !== undefined)) s.scaling[name] = { tp: tpByN, efficiency: effByN };
    for (const kind of KINDS) {
      const p = r.payload[kind]?.[name];
      s.payload[kind][name] = p === undefined ? undefined : isCannot(p) ? p : median(p.ms);
    }
    const st = r.startup[name];
    if (st !== undefined) {
      s.firstCall[name] = {};
      s.allAnswered[name] = {};
      s.hostPerWorker[name] = {};
      s.workerRss[name] = {};
      s.workerPss[name] = {};
      for (const [n, f] of Object.entries(st)) {
        if (isCannot(f)) {
          s.firstCall[name][n] = s.allAnswered[name][n] = s.hostPerWorker[name][n] = s.workerRss[name][n] = s.workerPss[name][n] = f;
          continue;
        }
        const fig = f as StartupFigures;
        s.firstCall[name][n] = med(fig.firstCallMs);
        s.allAnswered[name][n] = med(fig.allAnsweredMs);
        s.hostPerWorker[name][n] = med(fig.hostRssPerWorkerMiB);
        s.workerRss[name][n] = med(fig.workerRssMiB);
        s.workerPss[name][n] = med(fig.workerPssMiB);
      }
    }
  }
  return s;
}

export function fmt(f: Fig, digits = 1): string {
  if (f === undefined) return 'n/a';
  if (typeof f !== 'number') return 'cannot';
  if (!Number.isFinite(f)) return 'n/a';
  if (Math.abs(f) >= 1000) return String(Math.round(f));
  return String(round(f, digits));
}

/** Snakepit's cost over the contender's cost. */
export function ratio(snake: Fig, other: Fig, higherIsBetter = false): string {
  if (typeof other === 'object') return 'cannot';
  const a = num(snake);
  const b = num(other);
  if (a === undefined || b === undefined) return 'n/a';
  return `${round(higherIsBetter ? b / a : a / b, 2)}x`;
}

/** "snakepit 14.5 ms, snakepit import 18 ms, python-shell 5.2 ms (Snakepit 2.8x)": the package loads, for the start section's text. */
export function loadLine(r: Results): string {
  const load = summarize(r).load;
  const names = Object.keys(load);
  if (names.length === 0) return 'not measured in this run';
  const snake = num(load['snakepit']);
  return names
    .map((n) => `${n} ${fmt(load[n], 1)} ms` + (!n.startsWith('snakepit') && snake !== undefined ? ` (Snakepit ${ratio(snake, load[n])})` : ''))
    .join(', ');
}

/** Memory of one worker: host growth plus the worker's PSS (in-process: host growth only). */
export function memoryPerWorker(s: Summary, name: string, n: string): Fig {
  const host = s.hostPerWorker[name]?.[n];
  if (typeof host === 'object') return host;
  const pss = s.workerPss[name]?.[n];
  if (num(host) === undefined) return undefined;
  return num(host)! + (num(pss) ?? 0);
}
