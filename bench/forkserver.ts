/**
 * Fork server against spawn, in one run, with a data-science adapter (numpy, pandas, scikit-learn:
 * bench/forkserver_adapter.py):
 *
 *   1. replacing a killed worker: from SIGKILL to the replacement answering a call;
 *   2. 8 workers from a cold start until every one has answered a call;
 *   3. proportional set size (PSS) per worker for 8 workers (the zygote's counted in, spread);
 *   4. with a scikit-learn forest of about 200 MB loaded in setup(): the pool's total PSS in
 *      fork-server mode with setupInZygote (one copy, shared) against spawn (a copy per worker);
 *
 * The plain bench adapter's start and memory against python-shell, in both modes: bench/startup.ts.
 *
 *   node --import tsx bench/forkserver.ts [--reps 5] [--workers 8] [--model-mb 200] [--json FILE]
 *
 * Both modes run with OPENBLAS_NUM_THREADS=1 (the fork server's default, so that BLAS starts no
 * threads in the zygote); the rounds alternate between the modes. Figures are reported as ratios
 * of fork server to spawn.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readSmapsRollup } from '../src/worker/procfs.js';
import { BENCH_DIR, PYTHON, compileBytecode, machineInfo } from './lib/env.js';
import { Pool } from './lib/library.js';
import { median, table } from './lib/measure.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    workers: { type: 'string', default: '8' },
    'model-mb': { type: 'string', default: '200' },
    json: { type: 'string' },
  },
});
const REPS = Number(values.reps);
const WORKERS = Number(values.workers);
const MODEL_MB = Number(values['model-mb']);
const ADAPTER = path.join(BENCH_DIR, 'forkserver_adapter.py');
const PRELOAD = ['numpy', 'pandas', 'sklearn.ensemble'];
const MODES = ['spawn', 'forkserver'] as const;
type Mode = (typeof MODES)[number];
const MiB = 1024 * 1024;

const keepAlive = setInterval(() => {}, 1_000);
const T0 = performance.now();
const log = (msg: string): void => console.log(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

function options(mode: Mode, size: number, env: Record<string, string> = {}, setupInZygote = false): Parameters<typeof Pool.start>[0] {
  return {
    adapter: ADAPTER,
    python: PYTHON,
    size,
    startupConcurrency: size,
    startupTimeout: 120_000,
    startMethod: mode,
    ...(mode === 'forkserver' ? { preload: PRELOAD, setupInZygote } : {}),
    // Every kill is replaced at once: the benchmark measures the start, not the backoff.
    restart: { backoffInitial: 0, backoffMax: 0, jitter: 0, maxFailures: 1_000_000, window: 1_000 },
    env: { OPENBLAS_NUM_THREADS: '1', ...env },
  };
}

/** One call on every worker at once (each goes to a different free worker). */
async function everyWorkerAnswers(pool: Pool, tool = 'ping'): Promise<void> {
  await Promise.all(Array.from({ length: pool.stats().workerList.length }, () => pool.execute(tool)));
}

/** Total PSS in bytes of the pool's processes: its workers and, in fork-server mode, the zygote. */
function poolPss(pool: Pool): { total: number; workers: number; zygote: number } {
  let workers = 0;
  for (const w of pool.stats().workerList) workers += readSmapsRollup(w.pid!)?.pss ?? 0;
  const zpid = pool.stats().forkServer?.pid;
  const zygote = zpid === undefined ? 0 : (readSmapsRollup(zpid)?.pss ?? 0);
  return { total: workers + zygote, workers, zygote };
}

// ------------------------------------------------------------------------- 1. replacement

async function replacement(): Promise<Record<Mode, number[]>> {
  const pools = {} as Record<Mode, Pool>;
  for (const mode of MODES) pools[mode] = await Pool.start(options(mode, 1));
  const out: Record<Mode, number[]> = { spawn: [], forkserver: [] };
  try {
    for (let r = 0; r < REPS * 2; r++) {
      for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) {
        const pool = pools[mode];
        const victim = pool.stats().workerList[0]!.pid!;
        const restarted = new Promise((resolve) => pool.once('workerRestart', resolve));
        const t0 = performance.now();
        process.kill(victim, 'SIGKILL');
        await restarted;
        const pid = (await pool.execute('ping')) as number;
        out[mode].push(performance.now() - t0);
        if (pid === victim) throw new Error('the call ran on the killed worker');
        await new Promise((r2) => setTimeout(r2, 50));
      }
    }
  } finally {
    for (const mode of MODES) await pools[mode].close();
  }
  return out;
}

// ------------------------------------------------------------------ 2 and 3. cold start, PSS

interface ColdRound {
  ms: number;
  pssPerWorker: number;
  total: number;
}

async function coldStart(mode: Mode, env: Record<string, string> = {}, setupInZygote = false, tool = 'ping'): Promise<ColdRound> {
  const t0 = performance.now();
  const pool = await Pool.start(options(mode, WORKERS, env, setupInZygote));
  try {
    await everyWorkerAnswers(pool, tool);
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
    const pss = poolPss(pool);
    return { ms, pssPerWorker: pss.total / WORKERS, total: pss.total };
  } finally {
    await pool.close();
  }
}

// ---------------------------------------------------------------------------------- run

const ratio = (a: number, b: number): string => `${(a / b).toFixed(3)}x`;

// As an installed package has it (pip compiles what it installs), whatever PYTHONDONTWRITEBYTECODE says.
compileBytecode();
log(`machine: ${JSON.stringify(machineInfo())}`);
log('1. replacing a killed worker');
const repl = await replacement();
const replMs = { spawn: median(repl.spawn), forkserver: median(repl.forkserver) };
log(`   spawn ${replMs.spawn.toFixed(1)} ms, forkserver ${replMs.forkserver.toFixed(1)} ms`);

log(`2-3. ${WORKERS} workers from a cold start, PSS per worker`);
const cold: Record<Mode, ColdRound[]> = { spawn: [], forkserver: [] };
for (let r = 0; r < Math.max(1, Math.ceil(REPS / 2)); r++) {
  for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) cold[mode].push(await coldStart(mode));
}
const coldMs = { spawn: median(cold.spawn.map((c) => c.ms)), forkserver: median(cold.forkserver.map((c) => c.ms)) };
const pss = { spawn: median(cold.spawn.map((c) => c.pssPerWorker)), forkserver: median(cold.forkserver.map((c) => c.pssPerWorker)) };
const totals = { spawn: median(cold.spawn.map((c) => c.total)), forkserver: median(cold.forkserver.map((c) => c.total)) };

log(`4. a ${MODEL_MB} MB forest loaded in setup(): setupInZygote against a copy per spawned worker`);
const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-bench-fs-'));
const modelPath = path.join(dir, 'forest.pkl');
const made = spawnSync(PYTHON, [path.join(BENCH_DIR, 'forkserver_model.py'), modelPath, String(MODEL_MB)], {
  env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  encoding: 'utf8',
});
if (made.status !== 0) throw new Error(`cannot build the model: ${made.stderr}`);
const modelBytes = Number(made.stdout.trim());
const withModel = {
  forkserver: await coldStart('forkserver', { BENCH_MODEL: modelPath }, true, 'predict'),
  spawn: await coldStart('spawn', { BENCH_MODEL: modelPath }, false, 'predict'),
};
rmSync(dir, { recursive: true, force: true });
const growth = { forkserver: withModel.forkserver.total - totals.forkserver, spawn: withModel.spawn.total - totals.spawn };

console.log();
console.log(
  table(
    ['figure', 'spawn', 'forkserver', 'ratio (forkserver / spawn)'],
    [
      ['replace a killed worker, median ms', replMs.spawn.toFixed(1), replMs.forkserver.toFixed(1), ratio(replMs.forkserver, replMs.spawn)],
      [`${WORKERS} workers cold start to all answering, ms`, coldMs.spawn.toFixed(0), coldMs.forkserver.toFixed(0), ratio(coldMs.forkserver, coldMs.spawn)],
      [`PSS per worker, ${WORKERS} workers, MiB`, (pss.spawn / MiB).toFixed(1), (pss.forkserver / MiB).toFixed(1), ratio(pss.forkserver, pss.spawn)],
      [`pool PSS, ${WORKERS} workers, MiB`, (totals.spawn / MiB).toFixed(0), (totals.forkserver / MiB).toFixed(0), ratio(totals.forkserver, totals.spawn)],
      [`pool PSS with the forest, MiB`, (withModel.spawn.total / MiB).toFixed(0), (withModel.forkserver.total / MiB).toFixed(0), ratio(withModel.forkserver.total, withModel.spawn.total)],
      [`growth from the forest, MiB`, (growth.spawn / MiB).toFixed(0), (growth.forkserver / MiB).toFixed(0), ratio(growth.forkserver, growth.spawn)],
    ],
  ),
);
console.log(`\nforest: ${(modelBytes / MiB).toFixed(0)} MiB pickled; the forest's growth in fork-server mode is ${(growth.forkserver / (modelBytes || 1)).toFixed(2)} pickled copies (spawn: ${(growth.spawn / (modelBytes || 1)).toFixed(2)})`);

const results = {
  machine: machineInfo(),
  params: { reps: REPS, workers: WORKERS, modelMb: MODEL_MB, preload: PRELOAD },
  replaceMs: { ...replMs, samples: repl },
  coldStartMs: coldMs,
  pssPerWorker: pss,
  poolPss: totals,
  forest: { pickledBytes: modelBytes, poolPss: { spawn: withModel.spawn.total, forkserver: withModel.forkserver.total }, growth },
};
const out = values.json ?? path.join(BENCH_DIR, 'results', `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-forkserver.json`);
writeFileSync(out, JSON.stringify(results, null, 2));
log(`wrote ${path.relative(process.cwd(), out)}`);
clearInterval(keepAlive);
