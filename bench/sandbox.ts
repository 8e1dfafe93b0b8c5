/**
 * What a sandboxed worker costs (options.sandbox, bubblewrap) against an unconfined one, side by side
 * in one run: the time Pool.start takes for one worker (spawn, import, hello, first ping) and the
 * sequential per-call round trip of work.add.
 *
 *   npm run build && node --import tsx bench/sandbox.ts [--rounds 7] [--calls 2000]
 *
 * Each round starts one pool of each kind, in alternating order, and measures both; the figures are
 * medians over the rounds. Goal (issue 11): under 30 ms more to start, no measurable per-call cost.
 */

import { parseArgs } from 'node:util';
import { Pool } from './lib/library.js';
import { ADAPTER, PYTHON } from './lib/env.js';
import { median, round, sequential, table } from './lib/measure.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, calls: { type: 'string', default: '2000' } } });
const ROUNDS = Number(values.rounds);
const CALLS = Number(values.calls);

interface Sample {
  startMs: number;
  callUs: number;
}

async function measure(sandbox: boolean): Promise<Sample> {
  const t0 = performance.now();
  const pool = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, stateDir: false, ...(sandbox ? { sandbox: true } : {}) });
  const startMs = performance.now() - t0;
  try {
    const call = (): Promise<unknown> => pool.execute('add', { a: 1, b: 2 });
    await sequential(call, Math.min(500, CALLS)); // warm-up
    const latency = await sequential(call, CALLS);
    return { startMs, callUs: latency.p50 };
  } finally {
    await pool.close();
  }
}

const results: Record<'unconfined' | 'sandboxed', Sample[]> = { unconfined: [], sandboxed: [] };
// The first sandboxed start also probes bubblewrap once per process: keep it out of the figures.
await (await Pool.start({ adapter: ADAPTER, python: PYTHON, size: 1, stateDir: false, sandbox: true })).close();
for (let r = 0; r < ROUNDS; r++) {
  const order: ('unconfined' | 'sandboxed')[] = r % 2 === 0 ? ['unconfined', 'sandboxed'] : ['sandboxed', 'unconfined'];
  for (const kind of order) results[kind].push(await measure(kind === 'sandboxed'));
}

const med = (kind: 'unconfined' | 'sandboxed', key: keyof Sample): number => median(results[kind].map((s) => s[key]));
const start = { unconfined: med('unconfined', 'startMs'), sandboxed: med('sandboxed', 'startMs') };
const call = { unconfined: med('unconfined', 'callUs'), sandboxed: med('sandboxed', 'callUs') };
console.log(`sandbox cost, medians of ${ROUNDS} rounds, ${CALLS} sequential calls each`);
console.log(
  table(
    ['', 'unconfined', 'sandboxed', 'ratio', 'difference'],
    [
      ['Pool.start, 1 worker (ms)', round(start.unconfined), round(start.sandboxed), round(start.sandboxed / start.unconfined, 2), `${round(start.sandboxed - start.unconfined)} ms`],
      ['call p50 (us)', round(call.unconfined), round(call.sandboxed), round(call.sandboxed / call.unconfined, 2), `${round(call.sandboxed - call.unconfined)} us`],
    ],
  ),
);
