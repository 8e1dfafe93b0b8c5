/**
 * Starting a worker process and killing its whole process group. Each worker is spawned detached
 * (setsid), so it leads its own group: killing `-pid` also takes down anything the adapter started.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { arrowAvailable } from '../data/arrow.js';
import { sandboxLaunch, type ResolvedSandbox } from '../security/sandbox.js';

/**
 * The folder holding the `snakepit_bridge` package shipped with this library: `python/` at the
 * package's root, one level above the bundled `dist/index.js`, two above this source file.
 */
export const BRIDGE_PYTHONPATH = findBridge(path.dirname(fileURLToPath(import.meta.url)));

function findBridge(here: string): string {
  const candidates = [path.resolve(here, '..', 'python'), path.resolve(here, '..', '..', 'python')];
  return candidates.find((dir) => existsSync(path.join(dir, 'snakepit_bridge', '__init__.py'))) ?? candidates[0]!;
}

export interface SpawnSpec {
  python: string;
  adapter: string;
  cwd: string | undefined;
  env: Readonly<Record<string, string>>;
  workerId: number;
  concurrency: number;
  maxPayload: number;
  codecs: readonly string[];
  /** RLIMIT_AS in bytes the worker sets on itself before loading the adapter (0: none). */
  memoryLimit: number;
  /** The pool's run id: marks the worker and everything it starts, for the run registry. */
  runId: string;
  /** Run the worker under bubblewrap (src/security/sandbox.ts). */
  sandbox?: ResolvedSandbox | undefined;
}

export interface WorkerProcess {
  child: ChildProcess;
  toWorker: Writable;
  fromWorker: Readable;
  stdout: Readable;
  stderr: Readable;
}

export function spawnWorker(spec: SpawnSpec): WorkerProcess {
  const inherited = spec.env.PYTHONPATH ?? process.env.PYTHONPATH;
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...spec.env,
    PYTHONPATH: inherited ? `${BRIDGE_PYTHONPATH}${path.delimiter}${inherited}` : BRIDGE_PYTHONPATH,
    PYTHONUNBUFFERED: '1',
    SNAKEPIT_WORKER_ID: String(spec.workerId),
    SNAKEPIT_CONCURRENCY: String(spec.concurrency),
    SNAKEPIT_MAX_PAYLOAD: String(spec.maxPayload),
    SNAKEPIT_CODECS: spec.codecs.join(','),
    SNAKEPIT_HOST_PID: String(process.pid),
    SNAKEPIT_RUN_ID: spec.runId,
    // Whether this host can read Arrow tables: without apache-arrow, a worker refuses to send one (naming the package).
    SNAKEPIT_HOST_ARROW: arrowAvailable() ? '1' : '0',
  };
  if (spec.memoryLimit > 0) {
    env.SNAKEPIT_MEMORY_LIMIT = String(spec.memoryLimit);
    // glibc reserves 64 MiB of address space per malloc arena (one per thread): keep few of them so an
    // address-space limit measures memory in use rather than reservations.
    env.MALLOC_ARENA_MAX ??= '2';
  }
  const args = ['-m', 'snakepit_bridge', '--adapter', spec.adapter];
  const launch = spec.sandbox
    ? sandboxLaunch(spec.sandbox, { ...spec, args, env, poolEnv: spec.env, bridge: BRIDGE_PYTHONPATH })
    : { command: spec.python, args, env };
  const child = spawn(launch.command, launch.args, {
    cwd: spec.cwd,
    env: launch.env,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    detached: true,
    windowsHide: true,
  });
  const [, stdout, stderr, toWorker, fromWorker] = child.stdio;
  return {
    child,
    toWorker: toWorker as Writable,
    fromWorker: fromWorker as Readable,
    stdout: stdout as Readable,
    stderr: stderr as Readable,
  };
}

/** Send `signal` to the process group led by `pid`; false if no such group exists any more. */
export function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
