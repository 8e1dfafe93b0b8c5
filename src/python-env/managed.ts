/**
 * Managed Python environments: `python: { packages | requirements }` builds a virtual environment once,
 * keyed by a hash of the base interpreter, the requirements and the installer arguments, and reuses it
 * on later starts (every worker of the pool shares it). `uv` is used when it is on PATH, else `venv` +
 * pip. An environment is built in a temporary folder and renamed into place only once the install
 * succeeded, so a half-built one is never used; a failed build leaves nothing behind.
 */

import { execFile } from 'node:child_process';
import { nodeCrypto } from '../boot/crypto.js';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import { InvalidOptionsError, PythonEnvironmentError } from '../errors.js';
import { venvPython } from './resolve.js';

export interface EnvironmentOptions {
  /** Requirement specifiers (`numpy>=2`, `./wheels/pkg-1.0-py3-none-any.whl`). */
  packages?: string[];
  /** A requirements file, relative to the pool's `cwd`. */
  requirements?: string;
  /** Interpreter the environment is made from. Default: the one resolution picks (`$SNAKEPIT_PYTHON`, ..., `python3`). */
  base?: string;
  /** Folder holding the environments. Default: `$SNAKEPIT_ENV_DIR`, else `$XDG_CACHE_HOME/snakepit/envs` or `~/.cache/snakepit/envs`. */
  dir?: string;
  /** Extra installer arguments, such as `['--no-index', '--find-links', './wheels']`. Part of the key. */
  installArgs?: string[];
  /** `auto` (uv when on PATH or beside the base interpreter, else pip), `uv` or `pip`. Default `auto`. */
  installer?: 'auto' | 'uv' | 'pip';
}

export interface ResolvedEnvironment {
  readonly packages: readonly string[];
  readonly requirements: string | undefined;
  readonly base: string;
  readonly dir: string;
  readonly installArgs: readonly string[];
  readonly installer: 'auto' | 'uv' | 'pip';
}

const KEYS = new Set(['packages', 'requirements', 'base', 'dir', 'installArgs', 'installer']);
const MARKER = '.snakepit-env.json';

function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

function strings(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) fail(`${name} must be an array of non-empty strings`);
  return value as string[];
}

function defaultEnvDir(): string {
  if (process.env.SNAKEPIT_ENV_DIR) return process.env.SNAKEPIT_ENV_DIR;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'snakepit', 'envs');
}

/** Validates `options.python` given as an object. `base` is the interpreter resolution would pick. */
export function checkEnvironmentOptions(input: object, cwd: string, base: string, name = 'options.python'): ResolvedEnvironment {
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KEYS.has(key)) fail(`${name}.${key} is not an environment option (known: ${[...KEYS].join(', ')})`);
  }
  const packages = strings(o.packages, `${name}.packages`);
  let requirements: string | undefined;
  if (o.requirements !== undefined) {
    if (typeof o.requirements !== 'string' || o.requirements === '') fail(`${name}.requirements must be a file path`);
    requirements = resolvePath(cwd, o.requirements);
    if (!existsSync(requirements)) fail(`${name}.requirements: file not found: ${requirements}`);
  }
  if (packages.length === 0 && requirements === undefined) fail(`${name} needs packages or requirements (or give a path to an interpreter)`);
  if (o.base !== undefined && (typeof o.base !== 'string' || o.base === '')) fail(`${name}.base must be a non-empty string`);
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir === '')) fail(`${name}.dir must be a non-empty string`);
  const installer = o.installer ?? 'auto';
  if (installer !== 'auto' && installer !== 'uv' && installer !== 'pip') fail(`${name}.installer must be "auto", "uv" or "pip"`);
  return Object.freeze({
    packages: Object.freeze(packages),
    requirements,
    base: (o.base as string | undefined) ?? base,
    dir: resolvePath(cwd, (o.dir as string | undefined) ?? defaultEnvDir()),
    installArgs: Object.freeze(strings(o.installArgs, `${name}.installArgs`)),
    installer,
  });
}

interface RunResult {
  ok: boolean;
  output: string;
  error?: NodeJS.ErrnoException;
}

function run(cmd: string, args: readonly string[], cwd?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    // uv is never to download an interpreter: the environment is made from the base one.
    const env = { ...process.env, PIP_NO_INPUT: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1', UV_PYTHON_DOWNLOADS: process.env.UV_PYTHON_DOWNLOADS ?? 'never' };
    execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024, env }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}`, ...(error ? { error: error as NodeJS.ErrnoException } : {}) });
    });
  });
}

/** uv on PATH, else beside the base interpreter (a virtual environment with uv installed in it). */
async function findUv(base: string): Promise<string | undefined> {
  if ((await run('uv', ['--version'])).ok) return 'uv';
  const beside = join(dirname(base), process.platform === 'win32' ? 'uv.exe' : 'uv');
  return isAbsolute(beside) && existsSync(beside) && (await run(beside, ['--version'])).ok ? beside : undefined;
}

/** The package an installer's output says it could not find. */
export function missingPackage(output: string): string | undefined {
  const m =
    /No matching distribution found for ([^\s;]+)/.exec(output) ??
    /Could not find a version that satisfies the requirement ([^\s(;]+)/.exec(output) ??
    /Because ([^\s]+) was not found/.exec(output) ??
    /Because there is no version of ([^\s]+)/.exec(output);
  return m?.[1];
}

/** `pip X.Y ...` output of pip 22.3 or later, which has `--python`. */
function pipTargetsOthers(versionOutput: string): boolean {
  const m = /^pip (\d+)\.(\d+)/m.exec(versionOutput);
  return m !== null && (Number(m[1]) > 22 || (Number(m[1]) === 22 && Number(m[2]) >= 3));
}

function tail(output: string, lines = 15): string {
  return output.trim().split('\n').slice(-lines).join('\n');
}

export interface BuiltEnvironment {
  /** The environment's interpreter. */
  readonly python: string;
  /** The environment's folder. */
  readonly dir: string;
  /** The hash naming the folder. */
  readonly key: string;
  /** False when an existing environment was reused. */
  readonly built: boolean;
  readonly installer: 'uv' | 'pip' | undefined;
}

/** The key of an environment: the base interpreter's identity, the requirements and installer arguments. */
async function environmentKey(env: ResolvedEnvironment): Promise<string> {
  const probe = await run(env.base, ['-c', 'import sys; print(sys.executable); print(sys.version)']);
  if (!probe.ok) {
    throw new PythonEnvironmentError(`cannot run the base interpreter ${JSON.stringify(env.base)} of the managed environment: ${probe.error?.code ?? tail(probe.output, 3)}`, { output: probe.output, cause: probe.error });
  }
  const hash = nodeCrypto().createHash('sha256');
  hash.update(JSON.stringify({
    v: 1,
    base: probe.output.trim(),
    packages: [...env.packages].sort(),
    requirements: env.requirements !== undefined ? readFileSync(env.requirements, 'utf8') : null,
    installArgs: env.installArgs,
  }));
  return hash.digest('hex').slice(0, 20);
}

/** The environment's interpreter, building the environment first when it does not exist yet. */
export async function ensureEnvironment(env: ResolvedEnvironment, log: (line: string) => void = () => {}): Promise<BuiltEnvironment> {
  const key = await environmentKey(env);
  const final = join(env.dir, key);
  const existing = existsSync(join(final, MARKER)) ? venvPython(final) : undefined;
  if (existing !== undefined) return { python: existing, dir: final, key, built: false, installer: undefined };

  mkdirSync(env.dir, { recursive: true });
  const uv = env.installer === 'pip' ? undefined : await findUv(env.base);
  if (env.installer === 'uv' && uv === undefined) throw new PythonEnvironmentError('installer "uv" was asked for, but uv is neither on PATH nor beside the base interpreter');
  const installer = uv !== undefined ? 'uv' : 'pip';
  const tmp = join(env.dir, `.${key}.tmp-${process.pid}-${nodeCrypto().randomBytes(4).toString('hex')}`);
  const requirementArgs = [...env.packages, ...(env.requirements !== undefined ? ['-r', env.requirements] : [])];
  try {
    log(`creating ${installer === 'uv' ? 'a uv' : 'a venv'} environment from ${env.base} in ${final}`);
    // pip 22.3+ installs into another interpreter (`--python`): the new environment needs no pip of its
    // own, and creating it without one skips ensurepip, the slow part of `venv` (seconds).
    const basePip = installer === 'pip' && pipTargetsOthers((await run(env.base, ['-m', 'pip', '--version'])).output);
    const created = installer === 'uv'
      ? await run(uv!, ['venv', '--quiet', '--python', env.base, tmp])
      : await run(env.base, ['-m', 'venv', ...(basePip ? ['--without-pip'] : []), tmp]);
    if (!created.ok) throw new PythonEnvironmentError(`cannot create a virtual environment with ${installer === 'uv' ? 'uv venv' : `${env.base} -m venv`}:\n${tail(created.output)}`, { output: created.output, cause: created.error });
    const python = venvPython(tmp);
    if (python === undefined) throw new PythonEnvironmentError(`the new environment in ${tmp} has no interpreter`);
    log(`installing ${requirementArgs.join(' ')}`);
    const installed = installer === 'uv'
      ? await run(uv!, ['pip', 'install', '--quiet', '--python', python, ...env.installArgs, ...requirementArgs])
      : basePip
        ? await run(env.base, ['-m', 'pip', '--python', python, 'install', '--quiet', ...env.installArgs, ...requirementArgs])
        : await run(python, ['-m', 'pip', 'install', '--quiet', ...env.installArgs, ...requirementArgs]);
    if (!installed.ok) {
      const pkg = missingPackage(installed.output);
      const what = pkg !== undefined ? `package ${JSON.stringify(pkg)} was not found (offline, or not on the index?)` : 'the install failed';
      throw new PythonEnvironmentError(`managed Python environment: ${what}; nothing was kept.\n${tail(installed.output)}`, { package: pkg, output: installed.output });
    }
    writeFileSync(join(tmp, MARKER), `${JSON.stringify({ key, base: env.base, packages: env.packages, requirements: env.requirements ?? null, installer }, null, 2)}\n`);
    // A folder without the marker is never a finished environment (the marker is written before the rename).
    if (existsSync(final) && !existsSync(join(final, MARKER))) rmSync(final, { recursive: true, force: true });
    try {
      renameSync(tmp, final);
    } catch (err) {
      // Another process finished the same environment first: use theirs.
      if (!existsSync(join(final, MARKER))) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { python: venvPython(final)!, dir: final, key, built: true, installer };
}
