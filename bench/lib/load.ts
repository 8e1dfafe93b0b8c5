/**
 * Loading a contender's package, timed in a plain Node process of its own (no tsx, nothing loaded
 * before it), as an application's `node app.js` that loads it first would: the package's code and
 * the Node built-in modules it needs that were not loaded yet. pythonia and node-calls-python start
 * Python when their package is first required, so their load is part of their start and not measured
 * here.
 *
 * Both packages are loaded with `require`, python-shell being CommonJS only: the same way for both.
 * "snakepit import" is Snakepit loaded with `import()` (the same bundle behind its ES module entry),
 * which adds what Node's ES module loader costs at its first dynamic import and at its first CommonJS
 * module (a few milliseconds that any package loaded that way pays).
 */

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR, LIBRARY_URL } from './env.js';

const timed = (load: string): string =>
  `import { createRequire } from 'node:module'; ` +
  `const t = performance.now(); ${load}; process.stdout.write(String(performance.now() - t));`;
const required = (from: string, spec: string): string => timed(`createRequire(${JSON.stringify(from)})(${JSON.stringify(spec)})`);

/** By contender: an ES module's text that loads the package and prints the milliseconds it took. */
export const PACKAGE_LOADS: Record<string, string> = {
  'snakepit': required(fileURLToPath(LIBRARY_URL), fileURLToPath(new URL('cjs/index.js', LIBRARY_URL))),
  'snakepit import': timed(`await import(${JSON.stringify(LIBRARY_URL.href)})`),
  'python-shell': required(path.join(BENCH_DIR, 'package.json'), 'python-shell'),
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
