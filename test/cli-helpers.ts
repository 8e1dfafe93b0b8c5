/** Running the `snakepit` command as a child process, for the CLI and codegen tests. */

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { PYTHON, ROOT } from './helpers.js';

const MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');
export const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');

export function cli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    env: { ...process.env, SNAKEPIT_PYTHON: PYTHON, ...options.env },
    timeout: 90_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

