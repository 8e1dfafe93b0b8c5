/**
 * Turns a results file of bench/run.ts into tables: printed on the console, and written as
 * docs/benchmarks.md with the chart docs/benchmarks.svg (drawn here, no chart library).
 *
 *   node --import tsx bench/report.ts bench/results/<file>.json
 *
 * Ratios are cost ratios: Snakepit's cost divided by the other contender's cost, where cost is time per
 * call, time per transfer, time to the first call or memory. Below 1 Snakepit is cheaper; above 1 it is
 * dearer. Against the raw pipe this is Snakepit's overhead factor (target: at most 1.2).
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PayloadKind } from './lib/agent.js';
import type { SoakSample } from './lib/agent.js';
import { linearFit, median, round, table } from './lib/measure.js';
import { isCannot, type Results, type StartupFigures } from './lib/results.js';
import { chart, type Panel } from './lib/svg.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const TARGET = 1.2;
/** Per-call overhead against the raw pipe, in the pinned measurement (bench/overhead.ts). */
export const SEQ_TARGET = 1.15;
export const TP_TARGET = 1.05;
const PEERS = ['raw pipe', 'python-shell', 'pythonia', 'node-calls-python'];

/**
 * Soak samples before this many calls are its warm-up, left out of the slopes (runs before it was
 * recorded: 100k). The host's RSS moves by several MiB from one sample to the next as V8 resizes its
 * old space, and takes about a million calls to settle; the heap itself is flat from the start.
 */
export function soakSettle(r: Results): number {
  const p = r.params.soakSettle;
  return typeof p === 'number' && p > 0 ? p : 100_000;
}
const KIND_LABEL: Record<PayloadKind, string> = {
  bytesTo: '1 MiB bytes, host to worker',
  bytesFrom: '1 MiB bytes, worker to host',
  arrayTo: '1e6 float64, host to worker',
  arrayFrom: '1e6 float64, worker to host',
};
const KINDS = Object.keys(KIND_LABEL) as PayloadKind[];

type Cell = number | string;
/** A row of the ratio table for a start or memory figure, with the figure and the way workers start. */
interface StartRow {
  measure: string;
  mode: string;
  cells: Cell[];
}
/** A figure, or why it is missing. */
type Fig = number | { cannot: string } | undefined;

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
function scalingCounts(r: Results): number[] {
  const counts = r.params.scalingWorkers;
  return Array.isArray(counts) ? counts : [1, 2];
}

/** How the scaling phase loaded the workers (runs before it was recorded kept 32 in flight in all). */
function scalingLoad(r: Results): string {
  return Array.isArray(r.params.scalingWorkers) ? `${r.inFlight} in flight per worker` : `${r.inFlight} in flight`;
}

const med = (xs: number[] | undefined): Fig => (xs && xs.length > 0 ? median(xs) : undefined);
const num = (f: Fig): number | undefined => (typeof f === 'number' && Number.isFinite(f) ? f : undefined);

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

function fmt(f: Fig, digits = 1): string {
  if (f === undefined) return 'n/a';
  if (typeof f !== 'number') return 'cannot';
  if (!Number.isFinite(f)) return 'n/a';
  if (Math.abs(f) >= 1000) return String(Math.round(f));
  return String(round(f, digits));
}

/** Snakepit's cost over the contender's cost. */
function ratio(snake: Fig, other: Fig, higherIsBetter = false): string {
  if (typeof other === 'object') return 'cannot';
  const a = num(snake);
  const b = num(other);
  if (a === undefined || b === undefined) return 'n/a';
  return `${round(higherIsBetter ? b / a : a / b, 2)}x`;
}

/** "snakepit 14.5 ms, snakepit import 18 ms, python-shell 5.2 ms (Snakepit 2.8x)": the package loads, for the start section's text. */
function loadLine(r: Results): string {
  const load = summarize(r).load;
  const names = Object.keys(load);
  if (names.length === 0) return 'not measured in this run';
  const snake = num(load['snakepit']);
  return names
    .map((n) => `${n} ${fmt(load[n], 1)} ms` + (!n.startsWith('snakepit') && snake !== undefined ? ` (Snakepit ${ratio(snake, load[n])})` : ''))
    .join(', ');
}

/** Memory of one worker: host growth plus the worker's PSS (in-process: host growth only). */
function memoryPerWorker(s: Summary, name: string, n: string): Fig {
  const host = s.hostPerWorker[name]?.[n];
  if (typeof host === 'object') return host;
  const pss = s.workerPss[name]?.[n];
  if (num(host) === undefined) return undefined;
  return num(host)! + (num(pss) ?? 0);
}

interface Tables {
  ratios: { headers: string[]; rows: Cell[][] };
  latency: { headers: string[]; rows: Cell[][] };
  payload: { headers: string[]; rows: Cell[][] };
  startup: { headers: string[]; rows: Cell[][] };
  memory: { headers: string[]; rows: Cell[][] };
  scaling: { headers: string[]; rows: Cell[][] };
  soak?: { headers: string[]; rows: Cell[][] };
  overhead?: { headers: string[]; rows: Cell[][] };
  workerCost?: { headers: string[]; rows: Cell[][] };
  targets: string[];
}

export function tables(r: Results): Tables {
  const s = summarize(r);
  const names = Object.keys(r.contenders);
  const startupNames = Object.keys(r.startup);
  const ratioRow = (label: string, pick: (name: string) => Fig, snake: string, higherIsBetter = false): Cell[] => [
    label,
    ...PEERS.map((p) => ratio(pick(snake), pick(p), higherIsBetter)),
  ];
  // Start and memory rows, once per way of starting workers that the run measured: spawn (the
  // default, `snakepit`) and the fork server; `measure` groups the rows of one figure across modes.
  const modes = [
    { mode: 'spawn', suffix: '', first: 'snakepit', firstSoon: undefined, cold: 'snakepit cold' },
    {
      mode: 'fork server',
      suffix: ', fork server',
      first: 'snakepit forkserver',
      firstSoon: 'snakepit forkserver minReady 1',
      cold: 'snakepit forkserver cold',
    },
  ].filter((m) => s.firstCall[m.first] !== undefined);
  const startRows: StartRow[] = [];
  const startRow = (measure: string, mode: string, label: string, pick: (name: string) => Fig, snake: string): void => {
    if (pick(snake) === undefined) return;
    startRows.push({ measure, mode, cells: ratioRow(label, pick, snake) });
  };
  for (const m of modes) {
    for (const w of ['1', '4', '16']) {
      const measure = `start to first call, ${w} worker${w === '1' ? '' : 's'}`;
      startRow(measure, m.mode, measure + m.suffix, (n) => s.firstCall[n]?.[w], m.first);
      if (m.firstSoon !== undefined && w !== '1') {
        startRow(measure, `${m.mode}, minReady 1`, `${measure}${m.suffix}, minReady 1`, (n) => s.firstCall[n]?.[w], m.firstSoon);
      }
    }
    for (const w of ['4', '16']) {
      const measure = `start until all ${w} workers answered`;
      startRow(measure, m.mode, measure + m.suffix, (n) => s.allAnswered[n]?.[w], m.first);
    }
    for (const w of ['1', '16']) {
      const measure = `start to first call, ${w} worker${w === '1' ? '' : 's'}, cold`;
      startRow(measure, m.mode, measure + m.suffix, (n) => s.firstCall[n]?.[w], m.cold);
    }
    for (const w of ['1', '16']) {
      const measure = `memory per worker (${w} worker${w === '1' ? '' : 's'})`;
      startRow(measure, m.mode, measure + m.suffix, (n) => memoryPerWorker(s, n, w), m.first);
    }
  }
  const ratios: Cell[][] = [
    ratioRow('sequential call, p50', (n) => s.seqP50[n], 'snakepit'),
    ratioRow('sequential call, p99', (n) => s.seqP99[n], 'snakepit'),
    ratioRow(`time per call, ${r.inFlight} in flight, 1 worker`, (n) => (n === 'snakepit' ? s.tp1['snakepit c32'] : s.tp1[n]), 'snakepit', true),
    ratioRow(`time per call, ${scalingLoad(r)}, 2 workers`, (n) => s.scaling[n === 'snakepit' ? 'snakepit c32' : n]?.tp[2], 'snakepit', true),
    ...KINDS.map((k) => ratioRow(KIND_LABEL[k], (n) => s.payload[k][n], 'snakepit')),
    ...(s.load['snakepit'] === undefined ? [] : [ratioRow('load the package, fresh Node process', (n) => s.load[n], 'snakepit')]),
    ...startRows.map((row) => row.cells),
  ];
  const latency: Cell[][] = names.map((n) => [
    n,
    fmt(s.seqP50[n]),
    fmt(s.seqP99[n]),
    fmt(s.tp1[n], 0),
    fmt(s.scaling[n]?.tp[2], 0),
  ]);
  const payload: Cell[][] = names
    .filter((n) => KINDS.some((k) => s.payload[k][n] !== undefined))
    .map((n) => [n, ...KINDS.map((k) => fmt(s.payload[k][n], 2)), r.contenders[n]!.binary]);
  const startup: Cell[][] = startupNames.map((n) => [
    n,
    ...['1', '4', '16'].map((w) => fmt(s.firstCall[n]?.[w], 0)),
    ...['4', '16'].map((w) => fmt(s.allAnswered[n]?.[w], 0)),
  ]);
  const memory: Cell[][] = startupNames.map((n) => [
    n,
    ...['1', '4', '16'].map((w) => fmt(s.hostPerWorker[n]?.[w], 1)),
    fmt(s.workerRss[n]?.['1']),
    ...['1', '4', '16'].map((w) => (r.contenders[n]?.inProcess ? 'in-process' : fmt(s.workerPss[n]?.[w]))),
  ]);
  const counts = s.scalingCounts;
  const scaling: Cell[][] = Object.entries(s.scaling).map(([n, f]) => [
    n,
    ...counts.map((c) => fmt(f.tp[c], 0)),
    ...counts.filter((c) => c > 1).map((c) => fmt(f.efficiency[c], 2)),
  ]);

  const seqRatio = num(s.seqP50['snakepit']) !== undefined && num(s.seqP50['raw pipe']) !== undefined ? num(s.seqP50['snakepit'])! / num(s.seqP50['raw pipe'])! : NaN;
  const tpRatio = num(s.tp1['snakepit c32']) !== undefined && num(s.tp1['raw pipe']) !== undefined ? num(s.tp1['raw pipe'])! / num(s.tp1['snakepit c32'])! : NaN;
  // A ratio that rounds to its target is shown with one more digit, so that a miss never reads as the target itself.
  const shown = (x: number, target: number): number => (round(x, 2) === target && x !== target ? round(x, 3) : round(x, 2));
  const verdict = (x: number, target = TARGET): string =>
    x <= target ? `met (${shown(x, target)}x)` : `MISSED (${shown(x, target)}x, target <= ${target}x)`;
  const targets: string[] = [];
  const o = r.overhead?.contenders;
  if (o?.['raw'] !== undefined && o['pool c1'] !== undefined && o['pool c32'] !== undefined) {
    // The pinned measurement (bench/overhead.ts): one placement at a time, so placement noise does not decide.
    for (const [sfx, where] of [['', 'host and worker on one CPU'], [' split', 'host and worker on different CPUs']] as const) {
      const raw = o[`raw${sfx}`];
      const c1 = o[`pool c1${sfx}`];
      const c32 = o[`pool c32${sfx}`];
      if (raw === undefined || c1 === undefined || c32 === undefined) continue;
      targets.push(`Sequential p50, Snakepit vs raw pipe, ${where}: ${verdict(median(c1.p50) / median(raw.p50), SEQ_TARGET)}`);
      targets.push(`${r.overhead!.params.inFlight} in flight, time per call vs raw pipe, ${where}: ${verdict(median(raw.callsPerS) / median(c32.callsPerS), TP_TARGET)}`);
    }
  } else {
    targets.push(`Sequential p50, Snakepit vs raw pipe: ${verdict(seqRatio)}`);
    targets.push(`Throughput with ${r.inFlight} in flight on one worker (Snakepit concurrency 32), time per call vs raw pipe: ${verdict(tpRatio)}`);
  }
  // Ahead of every process-based peer on every row it can run: a ratio below 1 in the table above.
  // A start or memory figure counts as met when one of the ways of starting workers meets it.
  const perRow = ratios.slice(0, ratios.length - startRows.length);
  const measures = [...new Set(startRows.map((row) => row.measure))];
  for (const peer of PEERS.filter((p) => p !== 'raw pipe' && !r.contenders[p]?.inProcess)) {
    const column = PEERS.indexOf(peer) + 1;
    const value = (row: Cell[]): number | undefined => (typeof row[column] === 'string' && /x$/.test(row[column] as string) ? parseFloat(row[column] as string) : undefined);
    const behind = perRow.filter((row) => (value(row) ?? 0) >= 1).map((row) => `${row[0]} (${row[column]})`);
    const byMode: string[] = [];
    for (const measure of measures) {
      const rows = startRows.filter((row) => row.measure === measure && value(row.cells) !== undefined);
      if (rows.length === 0) continue;
      const best = rows.reduce((a, b) => (value(b.cells)! < value(a.cells)! ? b : a));
      const how = rows.map((row) => `${row.mode} ${row.cells[column]}`).join(', ');
      if (value(best.cells)! >= 1) behind.push(`${measure} (${how})`);
      else if (modes.length > 1) byMode.push(`${measure}: ${best.mode} (${best.cells[column]})`);
    }
    const met = byMode.length > 0 ? `; start and memory rows met with ${byMode.join(', ')}` : '';
    targets.push(
      behind.length === 0
        ? `Ahead of ${peer} on every row it can run: met${met}`
        : `Ahead of ${peer} on every row it can run: MISSED on ${behind.join(', ')}${met}`,
    );
  }
  const top = Math.max(...counts);
  const effTop = num(s.scaling['snakepit c32']?.efficiency[top]);
  const rawTop = fmt(s.scaling['raw pipe']?.efficiency[top], 2);
  if (top >= 16 && effTop !== undefined) {
    const ok = effTop >= 0.8;
    targets.push(`Scaling efficiency at ${top} workers (target >= 0.8): ${ok ? 'met' : 'MISSED'} (${round(effTop, 2)}; raw pipe ${rawTop})`);
  } else {
    targets.push(
      `Scaling efficiency at 16 workers on 16 cores (target >= 0.8): NOT MEASURED on this ${r.machine.cpus}-core machine` +
        (effTop === undefined ? '' : `; 1 to ${top} workers here: ${round(effTop, 2)} (raw pipe ${rawTop})`),
    );
  }
  if (r.soak) {
    // No growth: the fitted slope is below two standard errors (the scatter of the samples could make
    // it up), or what it adds over the whole soak is under 1 MiB (1 descriptor). A falling slope is
    // memory handed back, not a leak, and passes; the figures are printed either way.
    const settled = r.soak.samples.filter((x) => x.calls >= soakSettle(r));
    const xs = settled.map((x) => x.calls / 100_000);
    const spans = r.soak.calls / 100_000;
    const measures: [string, (x: SoakSample) => number, number][] = [
      ['host heap', (x) => x.hostHeapUsed / 2 ** 20, 1],
      ['host RSS', (x) => x.hostRss / 2 ** 20, 1],
      ['worker RSS', (x) => (x.workerRss[0] ?? NaN) / 2 ** 20, 1],
      ['fds', (x) => x.fds, 1],
    ];
    const verdicts = measures.map(([name, y, tolerance]) => {
      const { slope, stderr } = linearFit(xs, settled.map(y));
      const flat = slope <= 2 * stderr || slope * spans < tolerance;
      return { flat, text: `${name} ${round(slope, 3)} ± ${round(stderr, 3)} per 100k` };
    });
    targets.push(
      `Soak: no growth (slope below two standard errors, or under 1 MiB / 1 fd of growth over the run; a falling slope passes): ` +
        `${verdicts.every((v) => v.flat) ? 'met' : 'MISSED'} (${verdicts.map((v) => v.text).join('; ')})`,
    );
  }
  const out: Tables = {
    ratios: { headers: ['Snakepit cost / contender cost', ...PEERS], rows: ratios },
    latency: { headers: ['contender', 'seq p50 µs', 'seq p99 µs', `calls/s, ${r.inFlight} in flight, 1 worker`, `calls/s, ${r.inFlight} in flight, 2 workers`], rows: latency },
    payload: { headers: ['contender', ...KINDS.map((k) => `${KIND_LABEL[k]} (ms)`), 'how the data travels'], rows: payload },
    startup: {
      headers: ['contender', 'first call, 1 worker (ms)', 'first call, 4 workers (ms)', 'first call, 16 workers (ms)', 'all 4 answered (ms)', 'all 16 answered (ms)'],
      rows: startup,
    },
    memory: {
      headers: ['contender', 'host MiB/worker (1)', 'host MiB/worker (4)', 'host MiB/worker (16)', 'worker RSS MiB (1)', 'worker PSS MiB (1)', 'worker PSS MiB (4)', 'worker PSS MiB (16)'],
      rows: memory,
    },
    scaling: {
      headers: ['contender', ...counts.map((c) => `calls/s, ${c} worker${c === 1 ? '' : 's'}`), ...counts.filter((c) => c > 1).map((c) => `efficiency, ${c}`)],
      rows: scaling,
    },
    targets,
  };
  if (r.soak) {
    const first = r.soak.samples.find((x) => x.calls >= soakSettle(r)) ?? r.soak.samples[0]!;
    const last = r.soak.samples.at(-1)!;
    const mib = (x: number): string => fmt(x / 2 ** 20, 1);
    const sl = r.soak.slopePer100k;
    out.soak = {
      headers: ['measure', `at ${first.calls.toLocaleString('en-US')} calls`, `at ${last.calls.toLocaleString('en-US')} calls`, 'slope per 100k calls'],
      rows: [
        ['host heap used (MiB)', mib(first.hostHeapUsed), mib(last.hostHeapUsed), fmt(sl.hostHeapUsedMiB, 3)],
        ['host RSS (MiB)', mib(first.hostRss), mib(last.hostRss), fmt(sl.hostRssMiB, 3)],
        ...(first.hostHeapTotal === undefined || last.hostHeapTotal === undefined
          ? []
          : [['host V8 heap committed (MiB)', mib(first.hostHeapTotal), mib(last.hostHeapTotal), 'not fitted']]),
        ['worker RSS (MiB)', mib(first.workerRss[0] ?? NaN), mib(last.workerRss[0] ?? NaN), fmt(sl.workerRssMiB, 3)],
        ['open file descriptors (host)', first.fds, last.fds, fmt(sl.fds, 3)],
      ],
    };
  }
  if (r.overhead) {
    const o = r.overhead.contenders;
    out.overhead = {
      headers: ['contender', 'seq p50 µs', `calls/s, ${r.overhead.params.inFlight} in flight`, 'CPU µs/call seq: host', 'seq: worker', `${r.overhead.params.inFlight} in flight: host`, `${r.overhead.params.inFlight} in flight: worker`],
      rows: Object.entries(o).map(([n, f]) => [
        n,
        fmt(median(f.p50)),
        fmt(median(f.callsPerS), 0),
        fmt(median(f.seqCpu.host)),
        fmt(median(f.seqCpu.worker)),
        fmt(median(f.tpCpu.host)),
        fmt(median(f.tpCpu.worker)),
      ]),
    };
  }
  if (r.workerCost) {
    const counts = r.workerCost.instructionsPerCall;
    const raw = counts['raw pipe'];
    out.workerCost = {
      headers: ['worker', 'instructions per call', '/ raw pipe'],
      rows: Object.entries(counts).map(([n, v]) => [n, fmt(v, 0), raw ? `${(v / raw).toFixed(2)}x` : 'n/a']),
    };
  }
  return out;
}

export function printTables(r: Results): void {
  const t = tables(r);
  const m = r.machine;
  console.log(`${r.mode} run, ${m.date}, ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, Python ${m.python}, ${r.durationS} s`);
  console.log(`load average at the start ${m.loadavg.join(' ')}${r.loadavgEnd ? `, at the end ${r.loadavgEnd.join(' ')}` : ''}\n`);
  const show = (title: string, x: { headers: string[]; rows: Cell[][] }): void => {
    console.log(`${title}\n${table(x.headers, x.rows)}\n`);
  };
  show('Ratios (Snakepit cost / contender cost; below 1: Snakepit cheaper)', t.ratios);
  show('Sequential latency and throughput', t.latency);
  show('Bulk data (ms per transfer, median)', t.payload);
  show('Start to first call', t.startup);
  show('Memory', t.memory);
  show('Scaling (efficiency = calls/s(N) / (N x calls/s(1)))', t.scaling);
  if (t.overhead) show('Per-call overhead diagnostic (bench/overhead.ts --diagnose)', t.overhead);
  if (t.workerCost) show('Worker instructions per call (bench/worker_cost.py)', t.workerCost);
  if (t.soak) show(`Soak: ${r.soak!.calls} calls, ${r.soak!.inFlight} in flight, ${r.soak!.workers} worker`, t.soak);
  for (const [name, error] of Object.entries(r.failed ?? {})) console.log(`${name} could not be started: ${error}`);
  for (const line of t.targets) console.log(line);
}

/** A Markdown table; the first column and any column of text are left-aligned, figures right-aligned. */
function md(x: { headers: string[]; rows: Cell[][] }): string {
  const esc = (c: Cell): string => String(c).replace(/\|/g, '\\|');
  const text = x.headers.map((_, i) => i === 0 || x.rows.some((r) => /[a-z]{4,}/.test(String(r[i])) && !/^cannot$/.test(String(r[i])) && !/^in-process$/.test(String(r[i]))));
  return [
    `| ${x.headers.map(esc).join(' | ')} |`,
    `|${text.map((t) => (t ? ' --- ' : ' ---: ')).join('|')}|`,
    ...x.rows.map((row) => `| ${row.map(esc).join(' | ')} |`),
  ].join('\n');
}

function panels(r: Results): Panel[] {
  const s = summarize(r);
  const bars = (rec: Record<string, Fig>, names: string[]) =>
    names.map((n) => ({ label: n, value: num(rec[n]), note: typeof rec[n] === 'object' ? 'cannot' : undefined }));
  const all = Object.keys(r.contenders);
  const payloadNames = all.filter((n) => n !== 'snakepit c32');
  const startupNames = Object.keys(r.startup);
  return [
    { title: 'Sequential call p50 (µs, lower is better)', bars: bars(s.seqP50, all) },
    { title: `Calls/s, ${r.inFlight} in flight, 1 worker (higher is better)`, bars: bars(s.tp1, all) },
    ...KINDS.map((k) => ({ title: `${KIND_LABEL[k]} (ms, lower is better)`, bars: bars(s.payload[k], payloadNames) })),
    {
      title: 'Start to first call, 4 workers (ms, lower is better)',
      bars: bars(Object.fromEntries(startupNames.map((n) => [n, s.firstCall[n]?.['4']])), startupNames),
    },
    {
      title: `Scaling efficiency, ${Math.max(...s.scalingCounts)} workers (1.0 is linear)`,
      bars: bars(
        Object.fromEntries(Object.entries(s.scaling).map(([n, f]) => [n, f.efficiency[Math.max(...s.scalingCounts)]])),
        Object.keys(s.scaling),
      ),
    },
  ];
}

export function markdown(r: Results, resultsFile: string): string {
  const t = tables(r);
  const m = r.machine;
  const p = r.params as Record<string, number>;
  const counts = scalingCounts(r);
  const top = Math.max(...counts);
  const notes = Object.entries(r.contenders)
    .map(([n, c]) => `- **${n}**: ${c.binary}${c.workersNote ? `; ${c.workersNote}` : ''}.`)
    .join('\n');
  return `# Benchmarks

Generated by \`bench/report.ts\` from \`${resultsFile}\` (${r.mode} run). Every figure below comes from
that file; reproduce it with:

\`\`\`sh
npm run bench:full        # writes bench/results/<date>-full.json and regenerates this page
npm run bench             # quick run (tables on the console and a results file, no page)
node --import tsx bench/report.ts ${resultsFile}   # this page and the chart from a results file
node --import tsx bench/overhead.ts --diagnose     # per-call overhead against the raw pipe, in detail
.venv/bin/python bench/worker_cost.py              # each worker's instructions per call, under valgrind
\`\`\`

## Machine

- Date: ${m.date}
- CPUs: **${m.cpus}** (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.platform}; load average at the start ${m.loadavg.join(', ')}${r.loadavgEnd ? `, at the end ${r.loadavgEnd.join(', ')}` : ''}.
  ${m.loadavg[0]! >= 0.5 ? 'The machine was shared with other work at the start, so figures carry noise' : 'Nothing else ran on the machine at the start (the run itself loads it)'}; each figure is the median of several rounds.
- Node ${m.node}, Python ${m.python}, commit ${m.commit}.
- Run time ${r.durationS} s. Parameters: ${Object.entries(p).map(([k, v]) => `${k} ${v}`).join(', ')}.

${
  top >= 16
    ? `Scaling was measured with ${counts.join(', ')} workers.`
    : `Only ${counts.join(' and ')} workers were measured for scaling on this ${m.cpus}-core machine (the counts go up to the
number of CPUs). **Figures for 16 cores are not measured yet**: run \`npm run bench:full\` on a machine with
16 or more cores (see "Scaling" below).`
}

## Contenders

All run the same functions (\`bench/work.py\`) on the same machine in the same run, each driven from its
own Node process (\`bench/lib/agent.ts\`), with measurements alternating between contenders round by round.

- **snakepit**: \`Pool\` with the default concurrency 1 per worker; **snakepit c32**: concurrency 32 per
  worker (used for the throughput and scaling comparisons).
- **raw pipe**: \`bench/raw_worker.py\`, a bare single-threaded loop reading length-prefixed MessagePack
  frames on fd 3 and answering on fd 4, driven with the same msgpackr framing and no pool: the physical
  limit the library is measured against. With several workers, calls go to the one with the fewest outstanding.
- **python-shell**: one \`PythonShell\` per worker in JSON mode (\`bench/peers/pyshell_worker.py\`), calls
  multiplexed by id.
- **pythonia**: \`python(file)\` proxies into its single Python process.
- **node-calls-python**: CPython embedded in the Node process (native addon), asynchronous \`call\`.

How bulk data travels with each:

${notes}

A peer that cannot do something is marked **cannot** in the tables.${
    Object.keys(r.failed ?? {}).length > 0
      ? `\n\nContenders that could not be started in this run (left out of the tables):\n\n${Object.entries(r.failed)
          .map(([n, e]) => `- **${n}**: \`${e}\``)
          .join('\n')}`
      : ''
  }

![Benchmark chart](benchmarks.svg)

## Ratios

Snakepit's cost divided by the other contender's cost (time per call, time per transfer, time to the first
call, memory). Below 1: Snakepit is cheaper; above 1: dearer. The column **raw pipe** is Snakepit's overhead
over the physical limit. Snakepit is \`snakepit\` (concurrency 1) except for the "in flight" rows, which use
\`snakepit c32\`. Start and memory rows ending in "fork server" are pools with \`startMethod: 'forkserver'\`
(and \`minReady: 1\` where it says so); the targets below count such a figure as met when either way of
starting workers meets it, and name which.

${md(t.ratios)}

### Targets

${t.targets.map((x) => `- ${x}`).join('\n')}

## Sequential latency and throughput

One call at a time (${p.seq} calls per round, after ${p.warmup} warm-up calls), and ${r.inFlight} calls in
flight (${p.tp} calls per round). Medians over ${p.rounds} rounds (${p.scalingRounds} for 2 workers, from the scaling runs).${
  r.latencyPinned
    ? ` Each contender's processes are pinned (taskset) before each measurement: for the calls one at a
time, host and worker on one CPU; for the calls in flight on one worker, the host on one CPU and the
worker on the other. Unpinned, a round trip ran on one CPU or across two from one measurement to the
next (about three times slower across two), which decided the ratios more than the contenders did.
The 2-worker figures (scaling runs) are not pinned.`
    : ''
}

${md(t.latency)}

## Bulk data

Median of ${(p.payloadReps ?? 0) * (p.rounds ?? 0)} transfers (${p.rounds} rounds of ${p.payloadReps}, each after one warm-up transfer), including the conversion to a \`Buffer\` or
\`Float64Array\` on the Node side and to \`bytes\` or a NumPy array on the Python side; each transfer is checked
(length or sum).

${md(t.payload)}

## Start to first call

Each start runs in a fresh Node process that has loaded the contender's package first; the figures count
from the start request, after that load, for every contender (pythonia and node-calls-python start
Python when their package is first required: their load is part of their start). The load itself is
measured apart, in a plain Node process of its own that loads nothing else (bench/lib/load.ts), each
package with \`require\` (python-shell is CommonJS only; **snakepit import** is Snakepit loaded with
\`import()\` instead, which adds Node's ES module loader), median of ${p.startupReps}: ${loadLine(r)}.
From the start request to the first result, median of ${p.startupReps}; then, with
several workers, until every worker has answered a call (one call per worker, sent together right after
the first). \`Pool.start\` resolves once every worker has said hello and answered a ping, so Snakepit's
first call already waits for all its workers; python-shell and the raw pipe return from their start as
soon as the processes are spawned, so their first call waits for one worker only, and the "all answered"
columns compare the same thing for everyone. Snakepit starts at most 4 workers at once by default
(\`startupConcurrency\`). The run first compiles the bridge and
the benchmark's Python files to bytecode, as installing a package does, and runs one Snakepit pool, which
leaves the library's code cache as the first pool on a machine does (src/boot/code-cache.ts); **snakepit
cold** starts without the bridge's bytecode (removed before each start, and
\`PYTHONDONTWRITEBYTECODE=1\`), as on a first start from a read-only install or in an image built with
\`PYTHONDONTWRITEBYTECODE=1\`: every module of the bridge is compiled from source at every worker start.${
  t.startup.rows.some((row) => String(row[0]).startsWith('snakepit forkserver'))
    ? ` **snakepit forkserver** forks its workers from a zygote
(\`startMethod: 'forkserver'\`, docs/forkserver.md), all of them at once; with **minReady 1**, \`Pool.start\`
resolves once one worker is ready and the others start after; **snakepit forkserver cold** is the fork
server without the bridge's bytecode (the zygote compiles it once). A fork-server pool's memory counts
its zygote, spread over its workers.`
    : ''
}

${md(t.startup)}

## Memory

Host: growth of the Node process RSS per worker once the workers are up and have served calls. Worker: RSS
of one worker process, and its PSS (shared pages divided among the processes that map them), the better
measure with several workers. "Memory per worker" in the ratios is host growth per worker plus worker PSS.
With one worker the host's growth includes one-time costs (the library's code being compiled as it
first runs); the 16-worker row spreads them.

${md(t.memory)}

## Scaling on this machine

${scalingLoad(r)}, over ${counts.join(', ')} workers (powers of two up to the number of CPUs); efficiency =
calls/s(N) / (N × calls/s(1)). One Node process drives all workers, as an application would, so the
host's own CPU time per call bounds the total (the raw pipe's host too).${
  top < 16 ? ` With ${m.cpus} CPUs shared by the Node host and the workers, linear scaling is not available here.` : ''
}

On a larger machine the same command measures 1 to 16 workers: \`npm run bench:full\` (Node 20 and a Python
with \`msgpack\` and \`numpy\`; the peers' packages install themselves, \`node-calls-python\` with a compiler
and the Python headers; a contender that cannot start is left out and named in the results file).

${md(t.scaling)}
${
  t.overhead
    ? `
## Where the per-call overhead goes

\`bench/overhead.ts --diagnose\`, run as part of this run (${r.overhead!.params.rounds} rounds of ${r.overhead!.params.seq} sequential
and ${r.overhead!.params.tp} concurrent calls, medians). Every contender is one Python process running \`add\`: **raw** is the
raw pipe; **pool c1** and **pool c32** are Snakepit pools of size 1 with concurrency 1 and 32; **raw+thr1** and
**raw+thr32** are the raw pipe with each call handed to one of 1 or 32 executor threads through a queue (the
Snakepit worker avoids that hand-off: it runs sync calls on the thread that read them); **raw host+sp worker** is the raw
pipe's host driving a real Snakepit worker, which parts the pool's cost between host and worker. CPU time per call is measured for the host (\`process.cpuUsage\`) and for
all threads of the worker process (\`/proc/<pid>/task/*/schedstat\`).

Placement: the host is pinned to CPU 0 and each worker, before each of its measurements, to CPU 0 as well (rows
without a suffix) or to CPU 1 (rows ending in **split**). On this kind of machine a sequential round trip costs about
three times as much across CPUs as on one (an idle CPU must be woken); unpinned, each measurement landed either way.

How to read it: **raw+thr1** and **raw+thr32** against **raw** isolate the cost of handing each call to an
executor thread (a second thread to wake per call, and the GIL passed between threads); **pool c1** and
**pool c32** against **raw** show the per-call work of the pool (host side: call object, deadline
timer, statistics, the outbox's one write per tick; worker side: dispatch, the reader role's bookkeeping, the
frame writer's lock).
Latency figures depend on how busy the machine is: every extra thread that must be woken per call waits for
a free CPU, which costs most on a machine with few cores under load.

${md(t.overhead)}
`
    : ''
}${
  t.workerCost
    ? `
## Worker instructions per call

\`bench/worker_cost.py\`, run as part of this run: each worker process under valgrind (callgrind), driven from
a Python process with \`add(a=1, b=2)\`, one call at a time, ${r.workerCost!.calls.toLocaleString('en-US')} and then
${(2 * r.workerCost!.calls).toLocaleString('en-US')} calls; a call's cost is the difference between the two counts
of the thread that serves the calls, divided by ${r.workerCost!.calls.toLocaleString('en-US')}. A count does not move
with the machine's load as the timings above do, so it shows a change of a few per cent in the worker's
per-call work. It counts what runs in the process (the interpreter, msgpack, the system call wrappers),
not the kernel's share of a call. **snakepit** is the bridge's worker with the bench adapter, **raw pipe**
the bare loop of \`bench/raw_worker.py\`, **python-shell** its JSON-lines script.

${md(t.workerCost)}
`
    : ''
}${
  t.soak
    ? `
## Soak

${r.soak!.calls.toLocaleString('en-US')} calls through one pool (${r.soak!.workers} worker, concurrency 32, ${r.soak!.inFlight} in flight),
sampled every ${(p.soakEvery ?? 0).toLocaleString('en-US')} calls after a garbage collection. Slopes are least-squares fits over the samples
from ${soakSettle(r).toLocaleString('en-US')} calls on (the host's RSS moves by several MiB between samples as V8 resizes its old space,
and settles over about the first million calls). The heap V8 has committed is shown beside it: when the RSS
steps while the heap used stays flat, that column says whether V8 grew its spaces.

${md(t.soak)}
`
    : ''
}`;
}

export function writeReport(r: Results, resultsFile: string): string[] {
  const mdFile = path.join(ROOT, 'docs', 'benchmarks.md');
  const svgFile = path.join(ROOT, 'docs', 'benchmarks.svg');
  const m = r.machine;
  mkdirSync(path.dirname(mdFile), { recursive: true });
  writeFileSync(mdFile, markdown(r, resultsFile));
  writeFileSync(svgFile, chart(`Snakepit and peers, ${m.cpus} CPUs, ${m.date.slice(0, 10)} (${r.mode} run)`, panels(r)));
  return [path.relative(process.cwd(), mdFile), path.relative(process.cwd(), svgFile)];
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node --import tsx bench/report.ts bench/results/<file>.json');
    process.exit(2);
  }
  const results = JSON.parse(readFileSync(file, 'utf8')) as Results;
  printTables(results);
  console.log(`\nwrote ${writeReport(results, path.relative(ROOT, path.resolve(file))).join(', ')}`);
}
