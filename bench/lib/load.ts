/**
 * Loading a contender's package, timed in a plain Node process of its own (no tsx, nothing loaded
 * before it), as an application's `node app.js` that imports it first would: the package's code and
 * the Node built-in modules it needs that were not loaded yet. pythonia and node-calls-python start
 * Python when their package is first required, so their load is part of their start and not measured
 * here.
 */

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { BENCH_DIR, LIBRARY_URL } from './env.js';

const timed = (load: string): string =>
  `const t = performance.now(); ${load}; process.stdout.write(String(performance.now() - t));`;

/** By contender: an ES module's text that loads the package and prints the milliseconds it took. */
export const PACKAGE_LOADS: Record<string, string> = {
  'snakepit': timed(`await import(${JSON.stringify(LIBRARY_URL.href)})`),
  'python-shell':
    `import { createRequire } from 'node:module'; ` +
    timed(`createRequire(${JSON.stringify(path.join(BENCH_DIR, 'package.json'))})('python-shell')`),
};

/** Milliseconds to load `name`'s package in a fresh Node process. */
export function measureLoad(name: string): number {
  const code = PACKAGE_LOADS[name];
  if (code === undefined) throw new Error(`no package load for ${name}`);
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const ms = Number(out);
  if (!Number.isFinite(ms)) throw new Error(`loading ${name}'s package printed ${JSON.stringify(out)}`);
  return ms;
}
