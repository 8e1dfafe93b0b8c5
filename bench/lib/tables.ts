/**
 * The tables of a results file of bench/run.ts (ratios, latency, bulk data, start, memory, scaling,
 * soak and the diagnostics) and the lines on the targets: printed on the console by bench/run.ts and
 * bench/report.ts, and written into docs/benchmarks.md by bench/report.ts.
 */

import type { SoakSample } from './agent.js';
import { linearFit, median, round, table } from './measure.js';
import type { Results } from './results.js';
import {
  type Cell,
  type Fig,
  fmt,
  KIND_LABEL,
  KINDS,
  memoryPerWorker,
  num,
  PEERS,
  ratio,
  scalingCounts,
  scalingLoad,
  SEQ_TARGET,
  soakSettle,
  type StartRow,
  summarize,
  TARGET,
  TP_TARGET,
} from './summary.js';

export interface Tables {
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
    { mode: 'spawn', suffix: '', first: 'snakepit', firstSoon: 'snakepit minReady 1', cold: 'snakepit cold' },
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
