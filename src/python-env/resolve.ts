/**
 * Which Python executable runs the workers, and why. Order: `options.python`, `$SNAKEPIT_PYTHON`,
 * `$VIRTUAL_ENV`, a `.venv` beside the adapter file, a `.venv` in the working directory, `python3`.
 * The reason is kept so that `snakepit doctor` and start-up errors can say where the choice came from.
 */

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InvalidArgumentsError } from '../errors.js';
import { describe } from '../option-checks.js';

export interface PythonChoice {
  /** The executable (a path, or a name looked up on PATH). */
  readonly executable: string;
  /** Why it was chosen, for messages: `options.python`, `$SNAKEPIT_PYTHON`, `.venv beside the adapter`... */
  readonly reason: string;
}

export interface PythonSearch {
  /** `options.python`, when given. */
  readonly option?: string | undefined;
  /** The adapter file (absolute), when the adapter is a file. */
  readonly adapterFile?: string | undefined;
  /** The working directory. */
  readonly cwd: string;
  /** The environment to read (default: `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

function checkSearch(search: unknown): void {
  if (typeof search !== 'object' || search === null) throw new InvalidArgumentsError(`resolvePython takes { option?, adapterFile?, cwd, env? }, got ${describe(search)}`);
  const s = search as Record<string, unknown>;
  if (typeof s.cwd !== 'string') throw new InvalidArgumentsError(`resolvePython: cwd must be a directory path, got ${describe(s.cwd)}`);
  for (const key of ['option', 'adapterFile'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'string') throw new InvalidArgumentsError(`resolvePython: ${key} must be a path, got ${describe(s[key])}`);
  }
  if (s.env !== undefined && (typeof s.env !== 'object' || s.env === null)) throw new InvalidArgumentsError(`resolvePython: env must be an object, got ${describe(s.env)}`);
}

/** The interpreter inside a virtual environment folder, or undefined when there is none. */
export function venvPython(dir: string): string | undefined {
  const candidates = process.platform === 'win32'
    ? [join(dir, 'Scripts', 'python.exe')]
    : [join(dir, 'bin', 'python3'), join(dir, 'bin', 'python')];
  return candidates.find((p) => existsSync(p));
}

export function resolvePython(search: PythonSearch): PythonChoice {
  checkSearch(search);
  const env = search.env ?? process.env;
  if (search.option !== undefined) return { executable: search.option, reason: 'options.python' };
  if (env.SNAKEPIT_PYTHON) return { executable: env.SNAKEPIT_PYTHON, reason: '$SNAKEPIT_PYTHON' };
  if (env.VIRTUAL_ENV) {
    const found = venvPython(env.VIRTUAL_ENV);
    if (found !== undefined) return { executable: found, reason: `the active virtual environment ($VIRTUAL_ENV=${env.VIRTUAL_ENV})` };
  }
  if (search.adapterFile !== undefined) {
    const found = venvPython(join(dirname(search.adapterFile), '.venv'));
    if (found !== undefined) return { executable: found, reason: 'a .venv beside the adapter' };
  }
  const inCwd = venvPython(join(search.cwd, '.venv'));
  if (inCwd !== undefined) return { executable: inCwd, reason: 'a .venv in the working directory' };
  return { executable: 'python3', reason: 'the default (python3 on PATH)' };
}
