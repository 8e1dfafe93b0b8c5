/**
 * Cost of a Python-to-TypeScript host tool round trip inside a call, against a plain call, measured
 * side by side in one run: interleaved rounds of sequential calls, medians of the per-call times.
 * Target: a call that makes one callback costs at most 1.5x a plain call.
 *
 *   npm run build && node --import tsx bench/callback.ts [--rounds 15] [--calls 300]
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PYTHON } from './lib/env.js';
import { Pool } from './lib/library.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET = 1.5;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    calls: { type: 'string', default: '300' },
    codec: { type: 'string', default: 'auto' },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function perCall(pool: Pool, tool: string): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < calls; i++) await pool.execute(tool, { x: i });
  return ((performance.now() - start) * 1000) / calls; // microseconds
}

const pool = await Pool.start({
  adapter: path.join(HERE, 'callback_tools.py'),
  size: 1,
  codec: values.codec as 'auto' | 'msgpack' | 'json',
  python: PYTHON,
});
pool.registerTool('ping', ({ x }) => x);

try {
  for (const tool of ['plain', 'one_callback', 'aplain', 'aone_callback']) await perCall(pool, tool); // warm-up
  const kinds = { sync: ['plain', 'one_callback'], async: ['aplain', 'aone_callback'] } as const;
  const samples: Record<string, number[]> = { plain: [], one_callback: [], aplain: [], aone_callback: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [a, b] of Object.values(kinds)) {
      const order = r % 2 === 0 ? [a, b] : [b, a];
      for (const tool of order) samples[tool]!.push(await perCall(pool, tool));
    }
  }
  let worst = 0;
  console.log(`callback benchmark: ${rounds} interleaved rounds of ${calls} sequential calls, codec ${pool.stats().workerList.length ? values.codec : ''}`);
  for (const [kind, [a, b]] of Object.entries(kinds)) {
    const base = median(samples[a]!);
    const withCallback = median(samples[b]!);
    const ratio = withCallback / base;
    worst = Math.max(worst, ratio);
    console.log(
      `${kind.padEnd(5)} plain call ${base.toFixed(1)} us, with one callback ${withCallback.toFixed(1)} us, ` +
        `ratio ${ratio.toFixed(2)}x (target <= ${TARGET}x)`,
    );
  }
  console.log(`ratio ${worst.toFixed(2)} ${worst <= TARGET ? 'OK' : 'ABOVE TARGET'}`);
  if (worst > TARGET) process.exitCode = 1;
} finally {
  await pool.close();
}
