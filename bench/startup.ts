/**
 * Start and memory of a pool with the plain bench adapter (bench/adapter.py) against python-shell,
 * with 1 and 8 workers: start to first call, to every worker answering, and proportional set size
 * (PSS) per worker, for spawn, the fork server and python-shell; and loading each package in a plain
 * Node process of its own (bench/lib/load.ts), which the start figures do not include. Each start
 * runs in a Node process of its own (bench/lib/agent.ts; needs `npm --prefix bench install`) that
 * loads the contender's package first, so no contender finds another's modules already loaded; the
 * order of the contenders alternates between rounds.
 *
 *   node --import tsx bench/startup.ts [--reps 7] [--workers 8] [--json FILE]
 */

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { StartResult } from './lib/agent.js';
import { Agent, warmCodeCache } from './lib/driver.js';
import { BENCH_DIR, compileBytecode, machineInfo } from './lib/env.js';
import { measureLoad, PACKAGE_LOADS } from './lib/load.js';
import { median, table } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '7' },
    workers: { type: 'string', default: '8' },
    json: { type: 'string' },
  },
});
const REPS = Number(values.reps);
const CONTENDERS = process.env.CONTENDERS?.split(',') ?? ['snakepit', 'snakepit forkserver', 'snakepit minReady 1', 'snakepit forkserver minReady 1', 'python-shell'];
const WORKERS = [1, Number(values.workers)];
const MiB = 1024 * 1024;

type Fig = { firstCallMs: number[]; allAnsweredMs: number[]; pssPerWorkerMiB: number[] };
const figures: Record<string, Record<number, Fig>> = {};
const ratio = (a: number, b: number): string => `${(a / b).toFixed(3)}x`;

// As an installed package has it (pip compiles what it installs), whatever PYTHONDONTWRITEBYTECODE says.
compileBytecode();
await warmCodeCache();
const machine = machineInfo();
console.log(`startup: ${JSON.stringify(machine)}`);
const loads: Record<string, number[]> = {};
for (let r = 0; r < REPS; r++) {
  for (const name of Object.keys(PACKAGE_LOADS)) (loads[name] ??= []).push(measureLoad(name));
  for (const n of WORKERS) {
    for (const name of r % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse()) {
      const agent = new Agent(name);
      try {
        const res = await agent.request<StartResult>({ op: 'start', workers: n });
        const fig = ((figures[name] ??= {})[n] ??= { firstCallMs: [], allAnsweredMs: [], pssPerWorkerMiB: [] });
        fig.firstCallMs.push(res.firstCallMs);
        fig.allAnsweredMs.push(res.allAnsweredMs);
        // Every process of the contender (the zygote too), spread over its workers.
        fig.pssPerWorkerMiB.push(res.after.workerPss.reduce((a, b) => a + b, 0) / n / MiB);
      } finally {
        await agent.close();
      }
    }
  }
}

const rows: string[][] = [];
for (const n of WORKERS) {
  const base = figures['python-shell']?.[n];
  for (const name of CONTENDERS) {
    const f = figures[name]?.[n];
    if (f === undefined) continue;
    const cell = (xs: number[], ys: number[] | undefined, digits = 0): string =>
      `${median(xs).toFixed(digits)} (${ys ? ratio(median(xs), median(ys)) : '-'})`;
    rows.push([
      `${name} x${n}`,
      cell(f.firstCallMs, base?.firstCallMs, 1),
      cell(f.allAnsweredMs, base?.allAnsweredMs, 1),
      cell(f.pssPerWorkerMiB, base?.pssPerWorkerMiB, 1),
    ]);
  }
}
console.log();
const loadBase = loads['python-shell'];
console.log(
  `load the package (plain Node process, median): ${Object.entries(loads)
    .map(([name, ms]) => `${name} ${median(ms).toFixed(1)} ms${loadBase && name !== 'python-shell' ? ` (${ratio(median(ms), median(loadBase))})` : ''}`)
    .join(', ')}`,
);
console.log(table(['plain adapter (median of rounds)', 'first call ms (vs python-shell)', 'all answered ms', 'PSS per worker MiB'], rows));

const out = values.json ?? path.join(BENCH_DIR, 'results', `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-startup.json`);
writeFileSync(out, JSON.stringify({ machine, params: { reps: REPS, workers: WORKERS }, figures, loads }, null, 2));
console.log(`wrote ${path.relative(process.cwd(), out)}`);
