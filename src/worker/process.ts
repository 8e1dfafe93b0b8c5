/**
 * Local process control: starting a worker as a child process and killing its whole process group.
 * Each worker is spawned detached (setsid), so it leads its own group: killing `-pid` also takes down
 * anything the adapter started. Both local transports (pipe, socket) start their workers here.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { ENV } from '../protocol/messages.js';
import { sandboxExit, sandboxLaunch } from '../security/sandbox.js';
import type { LaunchSpec, ProcessEvents } from '../transport/transport.js';
import { LineTail, readLines } from './lines.js';

/**
 * The folder holding the `snakepit_bridge` package shipped with this library: `python/` at the
 * package's root, one level above the command's bundle `dist/cli.js`, two above the library's bundle
 * `dist/cjs/bundle.js` and this source file.
 */
export const BRIDGE_PYTHONPATH = findBridge(dirname(fileURLToPath(import.meta.url)));

function findBridge(here: string): string {
  const candidates = [resolvePath(here, '..', 'python'), resolvePath(here, '..', '..', 'python')];
  return candidates.find((dir) => existsSync(join(dir, 'snakepit_bridge', '__init__.py'))) ?? candidates[0]!;
}

/**
 * The interpreter's arguments that run `module`'s `main()` with `--adapter SPEC`: what
 * `python -m module --adapter SPEC` does, without runpy. `-m` imports runpy, and runpy importlib.util,
 * contextlib, warnings and importlib's machinery: eight modules a worker needs nothing of, a few
 * milliseconds of every start (docs/architecture.md, Process model). As `-m` does, the working
 * directory comes first on sys.path, absolute (`-c` puts `''` there), unless PYTHONSAFEPATH keeps it
 * off. The command line still names the module, as `ps` shows it.
 */
export function bridgeArgs(module: 'snakepit_bridge.__main__' | 'snakepit_bridge.zygote', adapter: string): string[] {
  const code = [
    'import sys',
    "if sys.path[:1] == ['']:",
    '    import os',
    '    sys.path[0] = os.getcwd()',
    `from ${module} import main`,
    'main()',
  ].join('\n');
  return ['-c', code, '--adapter', adapter];
}

const STDERR_TAIL_LINES = 40;
/** How long an exit waits for the rest of stderr before it is reported. */
const STDERR_FLUSH_MS = 50;

/** A worker running as a child process of this host. */
export class LocalProcess {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  private readonly tail = new LineTail(STDERR_TAIL_LINES);

  /**
   * Spawn `spec` with `extraFds` more pipes after stdio (fd 3, 4, ...) and `extraEnv` on top of its
   * environment. Spawn failures are reported through `events.onSpawnError`, never thrown.
   */
  constructor(spec: LaunchSpec, events: ProcessEvents, extraFds: number, extraEnv: Record<string, string> = {}) {
    const inherited = spec.env.PYTHONPATH ?? process.env.PYTHONPATH;
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...spec.env,
      ...extraEnv,
      PYTHONPATH: inherited ? `${BRIDGE_PYTHONPATH}${delimiter}${inherited}` : BRIDGE_PYTHONPATH,
      PYTHONUNBUFFERED: '1',
    };
    if (env[ENV.MEMORY_LIMIT] !== undefined) {
      // glibc reserves 64 MiB of address space per malloc arena (one per thread): keep few of them so
      // an address-space limit measures memory in use rather than reservations.
      env.MALLOC_ARENA_MAX ??= '2';
    }
    const extra = Array.from({ length: extraFds }, () => 'pipe' as const);
    const args = bridgeArgs('snakepit_bridge.__main__', spec.adapter);
    const launch = spec.sandbox
      ? sandboxLaunch(spec.sandbox, { ...spec, args, env, poolEnv: spec.env, bridge: BRIDGE_PYTHONPATH })
      : { command: spec.python, args, env };
    this.child = spawn(launch.command, launch.args, {
      cwd: spec.cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe', ...extra],
      detached: true,
      windowsHide: true,
    });
    this.pid = this.child.pid;
    const stdout = this.child.stdio[1] as Readable;
    const stderr = this.child.stdio[2] as Readable;
    this.child.on('error', (err) => events.onSpawnError(err as NodeJS.ErrnoException));
    stdout.on('error', () => {});
    stderr.on('error', () => {});
    const stderrDone = new Promise((resolve) => stderr.once('close', resolve));
    readLines(stdout, (line) => events.onLine('stdout', line));
    readLines(stderr, (line) => {
      this.tail.push(line);
      events.onLine('stderr', line);
    });
    for (const s of [stdout, stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    this.child.on('exit', (exitCode, exitSignal) => {
      // Under bubblewrap a signal death reads as exit code 128 + n: report the signal.
      const [code, signal] = spec.sandbox ? sandboxExit(exitCode, exitSignal) : [exitCode, exitSignal];
      // Anything the adapter started in the group goes down with the worker.
      if (this.pid !== undefined) killGroup(this.pid, 'SIGKILL');
      const flushed = Promise.race([stderrDone, new Promise((r) => setTimeout(r, STDERR_FLUSH_MS))]);
      void flushed.then(() => events.onExit(code, signal));
    });
  }

  get stderrTail(): string {
    return this.tail.text();
  }

  noteStderr(line: string): void {
    this.tail.push(line);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.pid !== undefined) killGroup(this.pid, signal);
  }

  ref(): void {
    this.child.ref();
  }

  unref(): void {
    this.child.unref();
  }
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
