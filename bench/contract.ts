/**
 * What the typed-contract options cost per call, as ratios against a plain pool measured in the same
 * run: `checkArguments: true` (arguments checked against the annotations before sending) and
 * `int64: 'bigint'` (the integer-policy decoder). Each pool has one worker and calls the same tools
 * of test/fixtures/typed_tools.py: `add` (two ints) and `scale` (a list of 100 floats).
 *
 *   npm run build && node --import tsx bench/contract.ts [--rounds 5] [--seq 2000]
 */

import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from './lib/library.js';
import { PYTHON, ROOT } from './lib/env.js';
import { median, round, sequential, table } from './lib/measure.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, seq: { type: 'string', default: '2000' } } });
const rounds = Number(values.rounds);
const n = Number(values.seq);
const adapter = path.join(ROOT, 'test', 'fixtures', 'typed_tools.py');
const floats = Array.from({ length: 100 }, (_, i) => i + 0.5);

const configs = {
  plain: {},
  types: { types: true },
  checkArguments: { checkArguments: true },
  'int64 bigint': { int64: 'bigint' as const },
};
const pools = Object.fromEntries(
  await Promise.all(Object.entries(configs).map(async ([name, extra]) => [name, await Pool.start({ adapter, python: PYTHON, size: 1, heartbeatInterval: 0, ...extra })] as const)),
);
const calls = {
  add: (p: Pool) => () => p.execute('add', { a: 1, b: 2 }),
  'scale(100 floats)': (p: Pool) => () => p.execute('scale', { values: floats, factor: 2 }),
};
const p50: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  const names = Object.keys(pools);
  if (r % 2 === 1) names.reverse();
  for (const name of names) {
    for (const [call, make] of Object.entries(calls)) {
      const key = `${name}|${call}`;
      await sequential(make(pools[name]!), 200); // warm-up
      (p50[key] ??= []).push((await sequential(make(pools[name]!), n)).p50);
    }
  }
}
await Promise.all(Object.values(pools).map((p) => p.close()));
const rows: (string | number)[][] = [];
for (const call of Object.keys(calls)) {
  const base = median(p50[`plain|${call}`]!);
  for (const name of Object.keys(configs)) {
    const us = median(p50[`${name}|${call}`]!);
    rows.push([call, name, round(us), round(us / base, 2)]);
  }
}
console.log(`${rounds} rounds of ${n} sequential calls; medians of the per-round p50`);
console.log(table(['call', 'pool', 'p50 us', 'ratio to plain'], rows));
