/**
 * Snakepit demo: a pool of Python workers called from TypeScript.
 * Run with `make demo` (or `node --import tsx examples/demo.ts`).
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, PythonError, CallTimeoutError } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const started = performance.now();
  const pool = await Pool.start({ adapter: path.join(here, 'demo_tools.py'), size: 2 });
  console.log(`started ${pool.stats().workers.ready} Python workers in ${Math.round(performance.now() - started)} ms`);
  pool.on('log', (e) => {
    if (e.stream === 'worker') console.log(`  [python worker ${e.workerId}] ${e.line}`);
  });

  // 1. A plain call: keyword arguments in, the Python return value out.
  console.log('\n1. execute: add(a=2, b=40) =', await pool.execute('add', { a: 2, b: 40 }));

  // 2. A Python exception arrives as a typed PythonError with the traceback.
  try {
    await pool.execute('divide', { a: 1, b: 0 });
  } catch (err) {
    if (err instanceof PythonError) {
      console.log(`\n2. Python error: code=${err.code} type=${err.pythonType} message=${JSON.stringify(err.message)}`);
      console.log(`   last traceback line: ${err.traceback.trim().split('\n').at(-1)}`);
    } else throw err;
  }

  // 3. A deadline: the call rejects at 200 ms and Python's task is cancelled.
  const t0 = performance.now();
  try {
    await pool.execute('slow_echo', { text: 'too late', seconds: 5 }, { timeout: 200 });
  } catch (err) {
    if (err instanceof CallTimeoutError) {
      console.log(`\n3. timeout: ${err.code} after ${Math.round(performance.now() - t0)} ms: ${err.message}`);
    } else throw err;
  }
  await new Promise((r) => setTimeout(r, 50)); // let the cancellation log line arrive

  // 4. Concurrency: CPU-bound calls spread over both workers (separate processes, no shared GIL).
  const t1 = performance.now();
  const results = await Promise.all(
    Array.from({ length: 8 }, () => pool.execute<{ pid: number; digest: string }>('hash_work', { rounds: 200_000 })),
  );
  const pids = new Set(results.map((r) => r.pid));
  console.log(`\n4. concurrency: 8 CPU-bound calls on ${pids.size} worker processes in ${Math.round(performance.now() - t1)} ms`);

  // 5. A generator tool consumed as an async iterable.
  const words: string[] = [];
  for await (const word of pool.stream<string>('words', { sentence: 'streams arrive chunk by chunk' })) words.push(word);
  console.log('\n5. stream:', words.join(' | '));

  const stats = pool.stats();
  console.log(
    `\nstats: ${stats.succeeded} ok, ${stats.failed} failed (${JSON.stringify(stats.failedByCode)}), ` +
      `run time p50 ${stats.runTime.p50.toFixed(2)} ms`,
  );
  const workerPids = stats.workerList.map((w) => w.pid!);
  await pool.close();
  const survivors = workerPids.filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  console.log(`pool closed; worker processes still alive: ${survivors.length} of ${workerPids.length}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
