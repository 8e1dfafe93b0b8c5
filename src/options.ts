/**
 * Pool options: validated in one place, normalised and frozen. Every message names the option. Two
 * groups keep their types and checks beside their subsystem (serving/options.ts, supervision/options.ts);
 * resolvePoolOptions calls both, so every option is still checked in one pass.
 */

import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve as resolvePath, sep } from 'node:path';
import { describe, fail, integer } from './option-checks.js';
import { checkPoolDurations } from './durations.js';
import { resolveSandbox, type ResolvedSandbox, type SandboxOptions } from './security/sandbox.js';
import { resolveAuditOptions, type AuditOptions, type ResolvedAuditOptions } from './audit/audit-log.js';
import { DEFAULT_MAX_PAYLOAD, type CodecName } from './protocol/messages.js';
import { checkAllowPattern } from './pool/allowlist.js';
import { checkEnvironmentOptions, type EnvironmentOptions, type ResolvedEnvironment } from './python-env/managed.js';
import { resolvePython } from './python-env/resolve.js';
import { isInt64Policy, type Int64Policy } from './protocol/int64.js';
import { checkLogsOption, type LogsOption } from './telemetry/logs.js';
import { resolveServingOptions, type ResolvedServingOptions, type ServingOptions } from './serving/options.js';
import { resolveSupervisionOptions, type ResolvedSupervisionOptions, type SupervisionOptions } from './supervision/options.js';

export type { RestartOptions, ResolvedRestartOptions } from './supervision/options.js';
export { defaultStateDir } from './supervision/options.js';

export interface PoolOptions extends ServingOptions, SupervisionOptions {
  /** Adapter to load: a file path (`./tools.py`, optionally `./tools.py:ClassName`) or `package.module[:Attr]`. */
  adapter: string;
  /** Number of worker processes. Default: available parallelism, at most 4. */
  size?: number;
  /**
   * Python executable. Default: `$SNAKEPIT_PYTHON`, else `$VIRTUAL_ENV`'s, else a `.venv` beside the
   * adapter or in `cwd`, else `python3` (src/python-env/resolve.ts). An object builds (once) and uses a
   * managed virtual environment: `{ packages: ['numpy'] }` or `{ requirements: 'requirements.txt' }`.
   */
  python?: string | EnvironmentOptions;
  /** Working directory of the workers; relative adapter paths resolve against it. Default: `process.cwd()`. */
  cwd?: string;
  /** Extra environment variables for the workers (added to the host's environment). */
  env?: Record<string, string>;
  /** Calls in flight per worker. Default 1. */
  concurrency?: number;
  /** Calls that may wait for a free worker; past it calls reject with POOL_SATURATED. Default 10000. */
  maxQueue?: number;
  /** Milliseconds a call may wait in the queue (0: no limit apart from its deadline). Default 0. */
  queueTimeout?: number;
  /** Default deadline of a call in milliseconds, queue time included (0: none). Default 60000. */
  timeout?: number;
  /** Milliseconds a worker has to import the adapter, run setup and answer. Default 30000. */
  startupTimeout?: number;
  /** Workers started at once. Default 4; with `startMethod: 'forkserver'`, every worker at once. */
  startupConcurrency?: number;
  /**
   * Workers that must be ready before `Pool.start` resolves, from 1 to `size`. Default `size` (all).
   * Below it, the pool takes calls as soon as that many are ready and goes on starting the others
   * (spawned ones at most one CPU fewer at a time than the machine has, so that the workers serving
   * keep a CPU); one of those that fails to start is restarted under the `restart` policy, as after a
   * crash. A failure before `Pool.start` resolves rejects it, as with the default.
   */
  minReady?: number;
  /** Largest frame in bytes, either way; larger ones are refused before allocation. Default 256 MiB. */
  maxPayload?: number;
  /** Milliseconds a worker has to settle a cancelled call before it is killed. Default 2000. */
  cancelGrace?: number;
  /** Milliseconds between SIGTERM and SIGKILL when a worker is stopped. Default 2000. */
  killGrace?: number;
  /** Wire codec: `auto` prefers MessagePack and falls back to JSON. Default `auto`. */
  codec?: 'auto' | CodecName;
  /** Chunks a stream's worker may send ahead of the consumer. Default 64. */
  streamWindow?: number;
  /**
   * Dotted names that `pool.python.call` and `pool.python.create` may reach: exact names
   * (`math.sqrt`) or everything below a module (`numpy.*`). Default: none, every name is denied.
   */
  allow?: string[];
  /** Milliseconds a session may stay idle before it expires and both sides free its state (0: never). Default 3600000. */
  sessionTtl?: number;
  /** Sessions open at once; past it `pool.session()` throws TOO_MANY_SESSIONS. Default 10000. */
  maxSessions?: number;
  /** Python object references one session may hold at once; past it TOO_MANY_REFS. Default 1000. */
  maxRefs?: number;
  /** Describe every parameter's and result's annotation as a type tree in `tools()` (`schema`). Default false. */
  types?: boolean;
  /**
   * Check arguments against the tools' annotations before sending (INVALID_ARGUMENTS naming the
   * parameter, the expected type and what was given). Implies `types`. Default false.
   */
  checkArguments?: boolean;
  /**
   * How Python integers arrive: `auto` (a number within ±(2^53-1), a bigint beyond), `number` (always a
   * number; beyond 2^53 precision is lost), `bigint` (always a bigint, so a column never mixes). Default `auto`.
   */
  int64?: Int64Policy;
  /**
   * Development reload: when a `.py` file changes under these folders (`true`: the adapter file's
   * folder, or `cwd` for a module adapter), the workers are replaced one at a time. Default false.
   */
  watch?: boolean | string[];
  /** Run every worker confined by bubblewrap (Linux): src/security/sandbox.ts, docs/security.md. */
  sandbox?: boolean | SandboxOptions;
  /** An audit log of every call: src/audit/audit-log.ts, docs/security.md. */
  audit?: AuditOptions;
  /**
   * How workers are reached: `pipe` (fd 3/4 inherited from the host) or `socket` (the worker connects
   * back to a private Unix socket of the pool with a one-time token). Default `pipe`.
   */
  transport?: 'pipe' | 'socket';
  /**
   * How workers start: `spawn` (a new Python each) or `forkserver` (forked from one zygote that
   * imported `preload` and the adapter once; see docs/forkserver.md). Default `spawn`.
   */
  startMethod?: 'spawn' | 'forkserver';
  /** Modules the zygote imports before it forks (fork-server mode only), e.g. `['numpy', 'pandas']`. */
  preload?: string[];
  /** Run the adapter's `setup()` once in the zygote; workers share its state copy-on-write. Default false. */
  setupInZygote?: boolean;
  /**
   * Where worker output (stdout, stderr, Python logging) goes: `'inherit'` prints it on the host's
   * stderr prefixed with `[python worker N pid P]`; `'events'` only publishes `log` events; a
   * function receives each structured record. Default `'inherit'`. See docs/observability.md.
   */
  logs?: LogsOption;
}

export interface ResolvedPoolOptions extends ResolvedSupervisionOptions {
  readonly adapter: string;
  readonly size: number;
  readonly python: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly queueTimeout: number;
  readonly timeout: number;
  readonly startupTimeout: number;
  readonly startupConcurrency: number;
  readonly minReady: number;
  readonly maxPayload: number;
  readonly cancelGrace: number;
  readonly killGrace: number;
  readonly codecs: readonly CodecName[];
  readonly streamWindow: number;
  readonly allow: readonly string[];
  readonly sessionTtl: number;
  readonly maxSessions: number;
  readonly maxRefs: number;
  readonly transport: 'pipe' | 'socket';
  readonly startMethod: 'spawn' | 'forkserver';
  readonly preload: readonly string[];
  readonly setupInZygote: boolean;
  /** Why `python` was chosen (`options.python`, `$SNAKEPIT_PYTHON`, `a .venv beside the adapter`...). */
  readonly pythonReason: string;
  /** The managed environment to build before starting, when `python` was given as an object. */
  readonly environment: ResolvedEnvironment | undefined;
  readonly types: boolean;
  readonly checkArguments: boolean;
  readonly int64: Int64Policy;
  /** Folders watched for development reload (empty: off). */
  readonly watch: readonly string[];
  readonly sandbox: ResolvedSandbox | undefined;
  readonly audit: ResolvedAuditOptions | undefined;
  /** Tenants, metering, host-side cache and batching (docs/serving.md). */
  readonly serving: ResolvedServingOptions;
  readonly logs: LogsOption;
}

const KNOWN = new Set([
  'adapter', 'size', 'python', 'cwd', 'env', 'concurrency', 'maxQueue', 'queueTimeout', 'timeout',
  'startupTimeout', 'startupConcurrency', 'minReady', 'maxPayload', 'cancelGrace', 'killGrace', 'codec', 'streamWindow',
  // sessions, references, allowlisted calls
  'allow', 'sessionTtl', 'maxSessions', 'maxRefs',
  // supervision (src/supervision/options.ts), up to handleSignals
  'restart', 'heartbeatInterval', 'heartbeatTimeout', 'maxRequests', 'ttl', 'maxRss', 'recycleWait', 'memoryLimit', 'retries',
  'stateDir', 'handleSignals', 'transport', 'sandbox', 'audit',
  // fork server
  'startMethod', 'preload', 'setupInZygote',
  // the typed contract (src/codegen, src/pool/argument-check.ts)
  'types', 'checkArguments', 'int64', 'watch',
  // serving (src/serving/options.ts)
  'tenants', 'metering', 'cache', 'batching',
  // worker output (src/telemetry/logs.ts)
  'logs',
]);

/** The largest frame the 4-byte length header can describe. */
const MAX_FRAME = 0xffff_ffff;

function isAdapterPath(adapter: string): boolean {
  const modulePart = adapter.replace(/:[A-Za-z_][A-Za-z0-9_]*$/, '');
  return modulePart.endsWith('.py') || modulePart.includes('/') || modulePart.includes(sep);
}

export function resolvePoolOptions(input: unknown): ResolvedPoolOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) fail('options must be an object');
  const options = input as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) fail(`options.${key} is not a pool option (known: ${[...KNOWN].join(', ')})`);
  }
  checkPoolDurations(options);
  const { adapter } = options;
  if (typeof adapter !== 'string' || adapter.trim() === '') fail('options.adapter must be a non-empty string');

  const cwdInput = options.cwd;
  if (cwdInput !== undefined && (typeof cwdInput !== 'string' || cwdInput === '')) fail('options.cwd must be a non-empty string');
  const cwd = resolvePath(cwdInput ?? process.cwd());
  if (!existsSync(cwd)) fail(`options.cwd does not exist: ${cwd}`);
  if (!statSync(cwd).isDirectory()) fail(`options.cwd is not a directory: ${cwd}`);

  let adapterSpec = adapter;
  if (isAdapterPath(adapter)) {
    const match = /^(.*?)(:[A-Za-z_][A-Za-z0-9_]*)?$/.exec(adapter);
    const file = resolvePath(cwd, match?.[1] ?? adapter);
    if (!existsSync(file)) fail(`options.adapter: file not found: ${file}`);
    if (statSync(file).isDirectory()) fail(`options.adapter is a directory, not a Python file: ${file}`);
    adapterSpec = file + (match?.[2] ?? '');
  }

  const pythonInput = options.python;
  const managed = pythonInput !== null && typeof pythonInput === 'object' && !Array.isArray(pythonInput);
  if (pythonInput !== undefined && !managed && (typeof pythonInput !== 'string' || pythonInput === '')) {
    fail('options.python must be a non-empty string (an executable) or an object ({ packages } or { requirements })');
  }
  const adapterFile = isAdapterPath(adapter) ? adapterSpec.replace(/:[A-Za-z_][A-Za-z0-9_]*$/, '') : undefined;
  const choice = resolvePython({ option: managed ? undefined : (pythonInput as string | undefined), adapterFile, cwd });
  const environment = managed ? checkEnvironmentOptions(pythonInput, cwd, choice.executable) : undefined;
  const python = choice.executable;

  const env = options.env ?? {};
  if (env === null || typeof env !== 'object' || Array.isArray(env)) fail('options.env must be an object of strings');
  for (const [key, value] of Object.entries(env)) {
    if (typeof value !== 'string') fail(`options.env.${key} must be a string, got ${describe(value)}`);
    // The environment block is `NAME=value\0` strings: a name with `=` would set another variable.
    if (key === '' || key.includes('=') || key.includes('\0')) fail(`options.env: ${JSON.stringify(key)} is not a variable name (empty, or has "=" or NUL)`);
    if (value.includes('\0')) fail(`options.env.${key} has a NUL character, which no environment variable can hold`);
  }

  const codec = options.codec ?? 'auto';
  if (codec !== 'auto' && codec !== 'msgpack' && codec !== 'json') {
    fail(`options.codec must be "auto", "msgpack" or "json", got ${describe(codec)}`);
  }

  const allow = checkAllowList(options.allow);
  const supervision = resolveSupervisionOptions(options);

  const transport = options.transport ?? (options.startMethod === 'forkserver' ? 'socket' : 'pipe');
  if (transport !== 'pipe' && transport !== 'socket') {
    fail(`options.transport must be "pipe" or "socket", got ${describe(transport)}`);
  }

  for (const flag of ['types', 'checkArguments'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') fail(`options.${flag} must be a boolean, got ${describe(options[flag])}`);
  }
  const checkArguments = options.checkArguments === true;
  const int64 = options.int64 ?? 'auto';
  if (!isInt64Policy(int64)) {
    fail(`options.int64 must be "auto", "number" or "bigint", got ${describe(int64)}`);
  }

  const watchInput = options.watch ?? false;
  let watch: readonly string[] = [];
  if (watchInput === true) watch = [adapterFile !== undefined ? dirname(adapterFile) : cwd];
  else if (Array.isArray(watchInput) && watchInput.every((d) => typeof d === 'string' && d !== '')) {
    watch = watchInput.map((d: string) => resolvePath(cwd, d));
    for (const d of watch) if (!existsSync(d)) fail(`options.watch: folder not found: ${d}`);
  } else if (watchInput !== false) fail(`options.watch must be a boolean or an array of folders, got ${describe(watchInput)}`);

  const defaultSize = Math.max(1, Math.min(4, availableParallelism()));
  const size = integer(options, 'size', defaultSize, 1, 1024);
  return Object.freeze({
    adapter: adapterSpec,
    size,
    python,
    cwd,
    env: Object.freeze({ ...(env as Record<string, string>) }),
    concurrency: integer(options, 'concurrency', 1, 1, 4096),
    maxQueue: integer(options, 'maxQueue', 10_000, 0),
    queueTimeout: integer(options, 'queueTimeout', 0, 0),
    timeout: integer(options, 'timeout', 60_000, 0),
    startupTimeout: integer(options, 'startupTimeout', 30_000, 1),
    // Forking a worker costs the zygote about a millisecond, not an interpreter's start: all at once.
    startupConcurrency: integer(options, 'startupConcurrency', options.startMethod === 'forkserver' ? 1024 : 4, 1),
    minReady: integer(options, 'minReady', size, 1, size),
    maxPayload: integer(options, 'maxPayload', DEFAULT_MAX_PAYLOAD, 1024, MAX_FRAME),
    cancelGrace: integer(options, 'cancelGrace', 2_000, 0),
    killGrace: integer(options, 'killGrace', 2_000, 0),
    codecs: Object.freeze(codec === 'auto' ? (['msgpack', 'json'] as CodecName[]) : [codec as CodecName]),
    streamWindow: integer(options, 'streamWindow', 64, 1, 65_536),
    allow,
    sessionTtl: integer(options, 'sessionTtl', 3_600_000, 0),
    maxSessions: integer(options, 'maxSessions', 10_000, 1),
    maxRefs: integer(options, 'maxRefs', 1_000, 1, 1_000_000),
    ...supervision,
    transport,
    ...resolveStartMethod(options),
    pythonReason: choice.reason,
    environment,
    types: checkArguments || options.types === true,
    checkArguments,
    int64,
    watch: Object.freeze([...watch]),
    sandbox: resolveSandbox(options.sandbox),
    audit: resolveAuditOptions(options.audit),
    serving: resolveServingOptions(options),
    logs: checkLogsOption(options.logs),
  });
}

const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function resolveStartMethod(options: Record<string, unknown>): {
  startMethod: 'spawn' | 'forkserver';
  preload: readonly string[];
  setupInZygote: boolean;
} {
  const startMethod = options.startMethod ?? 'spawn';
  if (startMethod !== 'spawn' && startMethod !== 'forkserver') {
    fail(`options.startMethod must be "spawn" or "forkserver", got ${describe(startMethod)}`);
  }
  const preload = options.preload ?? [];
  if (!Array.isArray(preload)) fail(`options.preload must be an array of module names, got ${describe(preload)}`);
  preload.forEach((name: unknown, i) => {
    if (typeof name !== 'string' || !MODULE_NAME.test(name)) {
      fail(`options.preload[${i}] must be a dotted Python module name, got ${describe(name)}`);
    }
  });
  const setupInZygote = options.setupInZygote ?? false;
  if (typeof setupInZygote !== 'boolean') fail(`options.setupInZygote must be a boolean, got ${describe(setupInZygote)}`);
  if (startMethod === 'spawn' && (preload.length > 0 || setupInZygote)) {
    fail(`options.${preload.length > 0 ? 'preload' : 'setupInZygote'} needs options.startMethod "forkserver"`);
  }
  if (startMethod === 'forkserver' && options.transport === 'pipe') {
    fail('options.transport "pipe" cannot be used with options.startMethod "forkserver": forked workers connect back over a socket');
  }
  if (startMethod === 'forkserver' && process.platform === 'win32') fail('options.startMethod "forkserver" needs a POSIX system');
  return { startMethod, preload: Object.freeze([...(preload as string[])]), setupInZygote };
}

function checkAllowList(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) fail(`options.allow must be an array of dotted names, got ${describe(value)}`);
  return Object.freeze(
    value.map((pattern: unknown, i) => {
      if (typeof pattern !== 'string') fail(`options.allow[${i}] must be a string, got ${describe(pattern)}`);
      const problem = checkAllowPattern(pattern);
      if (problem !== undefined) fail(`options.allow[${i}] ${problem}`);
      return pattern;
    }),
  );
}
