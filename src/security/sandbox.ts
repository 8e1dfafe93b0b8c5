/**
 * Sandboxed workers (`options.sandbox`, Linux): each worker runs under bubblewrap (`bwrap`) with
 *
 * - its own network namespace (only a loopback of its own) unless `network: true`;
 * - the root file system read-only, a private empty `/tmp` and `/run`, `/dev` and `/proc` of its own,
 *   `hide` paths replaced by empty directories, and only the `writable` paths writable;
 * - its own pid, IPC, UTS and cgroup namespaces (the worker is not pid 1: bwrap's init is, and every
 *   process in the sandbox dies with it, sessions of their own included);
 * - a clean environment: the pool's `env`, the SNAKEPIT_* protocol variables, PYTHONPATH and a default
 *   PATH and LANG (`env: 'inherit'` keeps the host's, an object adds variables);
 * - no new privileges (bwrap sets PR_SET_NO_NEW_PRIVS), no capabilities, `--die-with-parent`.
 *
 * The protocol pipes (fd 3 and 4) pass through: bwrap keeps inherited descriptors. bwrap leads the
 * worker's process group (the host spawns it detached and nothing inside calls setsid), so killing the
 * group reaches it, its init and the worker. When the platform cannot do this, `Pool.start` fails with
 * SandboxUnavailableError; it never runs the workers unconfined.
 */

import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { InvalidOptionsError, SandboxUnavailableError } from '../errors.js';

export interface SandboxOptions {
  /** Allow network access (the host's network namespace). Default false: loopback of its own only. */
  network?: boolean;
  /** Absolute paths (existing) that stay writable; everything else is read-only. */
  writable?: readonly string[];
  /** Absolute paths replaced by an empty directory in the sandbox (home directories, secrets). */
  hide?: readonly string[];
  /** `clean` (default): only what the pool passes; `inherit`: the host's environment too; an object: these variables besides. */
  env?: 'clean' | 'inherit' | Readonly<Record<string, string>>;
  /** The bubblewrap executable. Default `bwrap` (found on PATH). */
  bwrap?: string;
}

export interface ResolvedSandbox {
  readonly network: boolean;
  readonly writable: readonly string[];
  readonly hide: readonly string[];
  readonly env: 'clean' | 'inherit' | Readonly<Record<string, string>>;
  readonly bwrap: string;
}

const KNOWN = new Set(['network', 'writable', 'hide', 'env', 'bwrap']);
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
/** What the host sets for every worker (src/worker/process.ts): kept by a clean environment. */
const PROTOCOL_VARIABLES = [
  'PYTHONPATH', 'PYTHONUNBUFFERED', 'MALLOC_ARENA_MAX', 'SNAKEPIT_WORKER_ID', 'SNAKEPIT_CONCURRENCY', 'SNAKEPIT_MAX_PAYLOAD',
  'SNAKEPIT_CODECS', 'SNAKEPIT_RUN_ID', 'SNAKEPIT_MEMORY_LIMIT',
];
/** Directories masked by a private tmpfs in every sandbox. */
const MASKED = ['/tmp', '/run'];

function fail(message: string): never {
  throw new InvalidOptionsError(message);
}

function paths(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`options.sandbox.${name} must be an array of absolute paths`);
  return value.map((p: unknown, i) => {
    if (typeof p !== 'string' || !isAbsolute(p) || p.includes('\0')) {
      fail(`options.sandbox.${name}[${i}] must be an absolute path, got ${JSON.stringify(p)}`);
    }
    return resolvePath(p);
  });
}

/** Validates `options.sandbox` (`true` means the defaults). Undefined when not asked for. */
export function resolveSandbox(input: unknown): ResolvedSandbox | undefined {
  if (input === undefined || input === false) return undefined;
  if (input === true) input = {};
  if (input === null || typeof input !== 'object' || Array.isArray(input)) fail('options.sandbox must be true, false or an object');
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) fail(`options.sandbox.${key} is not a sandbox option (known: ${[...KNOWN].join(', ')})`);
  }
  if (o.network !== undefined && typeof o.network !== 'boolean') fail('options.sandbox.network must be a boolean');
  const env = o.env ?? 'clean';
  if (env !== 'clean' && env !== 'inherit') {
    if (env === null || typeof env !== 'object' || Array.isArray(env)) fail(`options.sandbox.env must be "clean", "inherit" or an object`);
    for (const [k, v] of Object.entries(env)) {
      if (typeof v !== 'string') fail(`options.sandbox.env.${k} must be a string`);
    }
  }
  const bwrap = o.bwrap ?? 'bwrap';
  if (typeof bwrap !== 'string' || bwrap === '') fail('options.sandbox.bwrap must be a non-empty string');
  return Object.freeze({
    network: o.network === true,
    writable: Object.freeze(paths(o.writable, 'writable')),
    hide: Object.freeze(paths(o.hide, 'hide')),
    env: env as ResolvedSandbox['env'],
    bwrap,
  });
}

function namespaceFlags(sandbox: ResolvedSandbox): string[] {
  const flags = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (!sandbox.network) flags.push('--unshare-net');
  // Run by root, bwrap keeps the capabilities in the sandbox unless told to drop them.
  if (process.getuid?.() === 0) flags.push('--cap-drop', 'ALL');
  return flags;
}

const probed = new Map<string, SandboxUnavailableError | null>();

/**
 * Throws SandboxUnavailableError unless this platform can run `sandbox` (checked once per process
 * and configuration by starting `true` in such a sandbox), and InvalidOptionsError for a writable
 * path that does not exist.
 */
export function checkSandbox(sandbox: ResolvedSandbox): void {
  sandbox.writable.forEach((p, i) => {
    if (!existsSync(p)) fail(`options.sandbox.writable[${i}] ${JSON.stringify(p)} does not exist`);
  });
  const key = `${sandbox.bwrap}\0${sandbox.network}`;
  let problem = probed.get(key);
  if (problem === undefined) {
    problem = probe(sandbox);
    probed.set(key, problem);
  }
  if (problem !== null) throw problem;
}

function probe(sandbox: ResolvedSandbox): SandboxUnavailableError | null {
  if (process.platform !== 'linux') {
    return new SandboxUnavailableError('linux', `options.sandbox needs Linux (namespaces and bubblewrap); this is ${process.platform}`);
  }
  const args = [...namespaceFlags(sandbox), '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--', 'true'];
  const r = spawnSync(sandbox.bwrap, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return new SandboxUnavailableError('bwrap', `options.sandbox needs bubblewrap: ${JSON.stringify(sandbox.bwrap)} was not found (install the bubblewrap package)`);
    }
    return new SandboxUnavailableError('bwrap', `options.sandbox: cannot run ${sandbox.bwrap}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const detail = (r.stderr ?? '').trim().split('\n').slice(-2).join(' ');
    return new SandboxUnavailableError(
      'namespaces',
      `options.sandbox: bubblewrap cannot create the sandbox's namespaces (are unprivileged user namespaces disabled?): ${detail || `exit status ${r.status}`}`,
    );
  }
  return null;
}

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

export interface Launch {
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
}

export interface LaunchSpec {
  python: string;
  args: readonly string[];
  /** The worker's full environment as the host built it. */
  env: Readonly<Record<string, string | undefined>>;
  /** The pool's `env` option, kept by a clean environment. */
  poolEnv: Readonly<Record<string, string>>;
  cwd: string | undefined;
  adapter: string;
  /** The folder holding snakepit_bridge. */
  bridge: string;
  /**
   * Folders bound read-only at the same path, over any masked or hidden directory: the private folder
   * of a fork server's connect-back socket (a Unix socket with a path works across network namespaces,
   * and connecting to it needs no write access to its file system).
   */
  binds?: readonly string[] | undefined;
}

/**
 * The bwrap command that runs `python args` sandboxed. The paths the worker must read (Python's
 * environment, the bridge, the adapter's folder, the working directory) are bound read-only again
 * where a masked or hidden directory would cover them.
 */
export function sandboxLaunch(sandbox: ResolvedSandbox, spec: LaunchSpec): Launch {
  const { env, poolEnv, cwd } = spec;
  const dir = resolvePath(cwd ?? process.cwd());
  const needed = [dirname(resolvePath(dir, spec.adapter)), spec.bridge, dirname(dirname(spec.python)), dir];
  const argv = [...namespaceFlags(sandbox), '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
  const masked = [...MASKED.filter((d) => existsSync(d)), ...sandbox.hide];
  for (const d of masked) argv.push('--tmpfs', d);
  for (const p of needed) {
    if (masked.some((d) => under(p, d)) && !sandbox.writable.some((w) => under(p, w))) argv.push('--ro-bind-try', p, p);
  }
  for (const p of sandbox.writable) argv.push('--bind', p, p);
  for (const p of spec.binds ?? []) argv.push('--ro-bind', p, p);
  argv.push('--chdir', dir, '--', spec.python, ...spec.args);

  let out: Record<string, string | undefined>;
  if (sandbox.env === 'inherit') out = { ...env };
  else {
    out = { PATH: DEFAULT_PATH, LANG: 'C.UTF-8', ...poolEnv };
    for (const [k, v] of Object.entries(env)) {
      // Protocol variables, and any SNAKEPIT_* the host set for the worker (not one it merely has).
      if (PROTOCOL_VARIABLES.includes(k) || (k.startsWith('SNAKEPIT_') && process.env[k] !== v)) out[k] = v;
    }
    if (typeof sandbox.env === 'object') Object.assign(out, sandbox.env);
  }
  // The host's pid means nothing in the sandbox's pid namespace: a spawned worker watches its parent
  // instead; a forked one relies on its socket and on the namespace (lifeline.py).
  delete out.SNAKEPIT_HOST_PID;
  return { command: sandbox.bwrap, args: argv, env: out };
}

/**
 * The worker's exit as the host should see it. bwrap reports a sandboxed process killed by signal N
 * as exit status 128+N; that is turned back into the signal (a worker that exits with such a status
 * itself reads as killed by that signal).
 */
export function sandboxExit(code: number | null, signal: NodeJS.Signals | null): [number | null, NodeJS.Signals | null] {
  if (signal !== null || code === null || code <= 128) return [code, signal];
  const name = Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0] as NodeJS.Signals | undefined;
  return name === undefined ? [code, signal] : [null, name];
}
