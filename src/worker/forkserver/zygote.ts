/**
 * One life of the zygote process (python/snakepit_bridge/zygote.py): spawned in its own process group
 * with a control channel on fd 3/4 (frames: 4-byte big-endian length, then JSON), it loads the
 * preloaded modules and the adapter, says `ready`, then forks workers on request and reports their
 * pids, their output and their exits. When it dies, the workers it forked live on (`orphaned`).
 *
 * With a sandbox (options.sandbox) the zygote runs under bubblewrap (src/security/sandbox.ts), so the
 * workers it forks are confined as it is. Its pid is then bwrap's (the leader of the sandbox's process
 * group, as for a sandboxed spawned worker); the pids it reports are those of the sandbox's pid
 * namespace and are turned into host pids (pidns.ts) before anyone sees them. The zygote is the
 * sandbox's main process: when it dies, the namespace and every worker in it die too.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { WorkerStartError } from '../../errors.js';
import { ENV } from '../../protocol/messages.js';
import { sandboxExit } from '../../security/sandbox.js';
import { LineTail, readLines } from '../lines.js';
import { killGroup } from '../process.js';
import { ForkedProcess, type ForkedSink } from './forked.js';
import { zygoteLaunch, type ZygoteSpec } from './launch.js';
import { hostPidOf } from './pidns.js';

interface ZygoteMessage {
  ev: 'ready' | 'fatal' | 'forked' | 'fork_failed' | 'out' | 'exit';
  id?: number;
  pid?: number;
  s?: 1 | 2;
  d?: string;
  code?: number | null;
  signal?: number | null;
  phase?: string;
  message?: string;
  traceback?: string;
  module?: string | null;
  loadMs?: number;
}

interface PendingFork {
  sink: ForkedSink;
  resolve: (proc: ForkedProcess) => void;
  reject: (err: Error) => void;
}

const MAX_CONTROL_FRAME = 16 * 1024 * 1024;

export class ZygoteLife {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  readonly startedAt: number;
  readonly ready: Promise<void>;
  loadMs = 0;
  exited = false;
  private readonly toZygote: Writable;
  private readonly fromZygote: Readable;
  private readonly stderrTail = new LineTail(40);
  private readonly pending = new Map<number, PendingFork>();
  /** Workers by the pid the zygote knows them by (its pid namespace's when sandboxed). */
  private readonly children = new Map<number, ForkedProcess>();
  private readonly sandboxed: boolean;
  /** The zygote's own pid as the host sees it (sandboxed: a descendant of bwrap, found at `ready`). */
  private zygoteHostPid: number | undefined;
  private fatal: ZygoteMessage | undefined;
  private settleReady!: { resolve: () => void; reject: (err: Error) => void };
  private isReady = false;
  /** Why the zygote never became ready, once that is known: what every fork asked of it fails with. */
  private startFailure: WorkerStartError | undefined;
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    spec: ZygoteSpec,
    private readonly onExit: (life: ZygoteLife, code: number | null, signal: NodeJS.Signals | null) => void,
    onLog: (line: string, stream: 'stdout' | 'stderr') => void,
  ) {
    this.ready = new Promise((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => {});
    this.sandboxed = spec.sandbox !== undefined;
    const launch = zygoteLaunch(spec);
    this.child = spawn(launch.command, launch.args, {
      cwd: spec.cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,
      windowsHide: true,
    });
    this.pid = this.child.pid;
    // After the spawn, what the spawn does not need (the first timer and the first read of
    // `performance` each load parts of Node): the interpreter starts meanwhile.
    this.startedAt = performance.now();
    // A zygote that hangs in an import or in setup() is killed; its exit counts as a failure.
    const readyTimer = setTimeout(() => {
      this.failReady(this.startError('timeout', `the zygote did not become ready within startupTimeout (${spec.startupTimeout} ms)`));
      this.killNow();
    }, spec.startupTimeout);
    readyTimer.unref();
    this.ready.then(
      () => clearTimeout(readyTimer),
      () => clearTimeout(readyTimer),
    );
    const [, stdout, stderr, toZygote, fromZygote] = this.child.stdio as unknown as [null, Readable, Readable, Writable, Readable];
    this.toZygote = toZygote;
    this.fromZygote = fromZygote;
    for (const s of [stdout, stderr, toZygote, fromZygote]) s.on('error', () => {});
    readLines(stdout, (line) => onLog(line, 'stdout'));
    readLines(stderr, (line) => {
      this.stderrTail.push(line);
      onLog(line, 'stderr');
    });
    fromZygote.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.on('error', (err) => this.failReady(this.startError('spawn', `cannot run ${JSON.stringify(spec.python)}: ${err.message}`)));
    // Under bubblewrap a signal death reads as exit code 128 + n: report the signal.
    this.child.on('exit', (code, signal) => {
      const [c, s] = this.sandboxed ? sandboxExit(code, signal) : [code, signal];
      this.onChildExit(c, s);
    });
    for (const s of [stdout, stderr, toZygote] as unknown as { unref?: () => void }[]) s.unref?.();
    this.child.unref();
    this.setRef(true); // while it starts
  }

  /** Hold the host's event loop while someone waits on the zygote (starting, forks pending). */
  private setRef(on: boolean): void {
    const sock = this.fromZygote as unknown as { ref?: () => void; unref?: () => void };
    if (on || this.holds > 0) sock.ref?.();
    else sock.unref?.();
  }

  /** Workers waiting for their exit to be reported hold the channel (ForkedProcess.ref). */
  private holds = 0;
  private readonly holder = {
    hold: (): void => {
      this.holds++;
      this.setRef(true);
    },
    release: (): void => {
      this.holds--;
      this.setRef(this.pending.size > 0);
    },
  };

  /**
   * Ask for a worker; resolves with its process once the zygote reports its pid. A zygote still
   * loading reads the request once it is ready; if it never is, the fork fails with its start error.
   */
  fork(workerId: number, env: Readonly<Record<string, string>>, sink: ForkedSink): Promise<ForkedProcess> {
    if (this.startFailure !== undefined) return Promise.reject(this.startFailure);
    if (this.exited) return Promise.reject(new Error('the fork server is not running'));
    return new Promise((resolve, reject) => {
      this.pending.set(workerId, { sink, resolve, reject });
      this.setRef(true);
      const forkEnv = { ...env };
      // The host's pid means nothing in the sandbox's pid namespace: a forked worker there relies on
      // its socket's EOF and on the namespace dying with the zygote (python/snakepit_bridge/lifeline.py).
      if (this.sandboxed) delete forkEnv[ENV.HOST_PID];
      this.send({ op: 'fork', id: workerId, env: forkEnv });
    });
  }

  private send(message: unknown): void {
    const body = Buffer.from(JSON.stringify(message));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    this.toZygote.write(Buffer.concat([header, body]));
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 4) {
      const n = this.buf.readUInt32BE(0);
      if (n > MAX_CONTROL_FRAME) {
        killGroup(this.pid!, 'SIGKILL');
        return;
      }
      if (this.buf.length < 4 + n) return;
      const body = this.buf.subarray(4, 4 + n);
      this.buf = this.buf.subarray(4 + n);
      let msg: ZygoteMessage;
      try {
        msg = JSON.parse(body.toString('utf8')) as ZygoteMessage;
      } catch {
        // The channel can no longer be trusted: this zygote goes (and is restarted).
        killGroup(this.pid!, 'SIGKILL');
        return;
      }
      this.onMessage(msg);
    }
  }

  private onMessage(msg: ZygoteMessage): void {
    switch (msg.ev) {
      case 'out':
        this.children.get(msg.pid!)?.output(msg.s!, msg.d ?? '');
        return;
      case 'exit': {
        const child = this.children.get(msg.pid!);
        this.children.delete(msg.pid!);
        child?.exit(msg.code ?? null, msg.signal ?? null);
        if (this.children.size === 0 && this.retiring) this.killNow();
        return;
      }
      case 'forked': {
        const pending = this.takePending(msg.id!);
        if (pending === undefined) return;
        const pid = this.hostPid(msg.pid!);
        if (pid === undefined) {
          // Gone before the host could see it (it exited at once): its exit report finds no one.
          pending.reject(new Error(`the forked worker (pid ${msg.pid} in the sandbox) exited before the host could find it`));
          return;
        }
        const proc = new ForkedProcess(pid, this.holder, pending.sink);
        this.children.set(msg.pid!, proc);
        pending.resolve(proc);
        return;
      }
      case 'fork_failed':
        this.takePending(msg.id!)?.reject(new Error(msg.message ?? 'fork failed'));
        return;
      case 'ready':
        this.loadMs = msg.loadMs ?? 0;
        if (this.sandboxed && this.pid !== undefined && msg.pid !== undefined) this.zygoteHostPid = hostPidOf(this.pid, msg.pid);
        if (this.pending.size === 0) this.setRef(false);
        this.isReady = true;
        this.settleReady.resolve();
        return;
      case 'fatal':
        this.fatal = msg;
        this.failReady(this.startError(msg.phase ?? 'start', msg.message ?? 'the fork server failed', msg.traceback));
        return;
    }
  }

  /** The host pid of a worker the zygote reported (the same pid unless sandboxed). */
  private hostPid(pid: number): number | undefined {
    if (!this.sandboxed) return pid;
    if (this.zygoteHostPid !== undefined) {
      const found = hostPidOf(this.zygoteHostPid, pid, 1);
      if (found !== undefined) return found;
    }
    return this.pid === undefined ? undefined : hostPidOf(this.pid, pid);
  }

  private takePending(id: number): PendingFork | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (this.pending.size === 0) this.setRef(false);
    return p;
  }

  private startError(phase: string, message: string, traceback = ''): WorkerStartError {
    const stderrTail = this.stderrTail.text();
    return new WorkerStartError(`fork server: ${message}${traceback ? `\n${traceback}` : ''}`, {
      pid: this.pid,
      phase,
      stderrTail,
      pythonTraceback: traceback,
    });
  }

  private failReady(err: WorkerStartError): void {
    if (this.isReady || this.startFailure !== undefined) return;
    this.startFailure = err;
    this.settleReady.reject(err);
    // Forks asked of it meanwhile were never read: they fail now, not at its exit (which a host with
    // nothing else to wait on might not stay for).
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.setRef(false);
  }

  private onChildExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    if (this.whenIdle !== undefined) clearTimeout(this.whenIdle);
    killGroup(this.pid!, 'SIGKILL');
    this.setRef(false);
    const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (this.fatal === undefined) {
      const tail = this.stderrTail.text();
      this.failReady(this.startError('start', `the zygote (pid ${this.pid}) ${why} before it was ready${tail ? `\n--- stderr ---\n${tail}` : ''}`));
    }
    const lost = new Error(`the fork server (pid ${this.pid}) ${why}`);
    for (const p of this.pending.values()) p.reject(lost);
    this.pending.clear();
    // The workers it forked live on; their exits are now learnt by polling their pids. In a sandbox
    // they do not: the zygote was the sandbox's main process, and the kernel SIGKILLs every process of
    // its pid namespace when bwrap's init exits after it.
    for (const child of this.children.values()) child.orphaned(this.sandboxed ? 'SIGKILL' : null);
    this.children.clear();
    this.onExit(this, code, signal);
  }

  private retiring = false;
  private whenIdle: NodeJS.Timeout | undefined;

  /**
   * Stop the zygote once the workers it forked have exited (so that it still reaps them and reports
   * their exit codes while the pool stops them), at the latest after `graceMs`; with no `graceMs`, only
   * then (a sandboxed zygote's workers die with it, so it must outlast every one of them).
   */
  retire(graceMs: number | undefined): void {
    if (this.exited || this.retiring) return;
    this.retiring = true;
    if (!this.isReady) {
      // Still loading, it has forked nothing: it goes now, and the forks asked of it meanwhile fail.
      this.failReady(this.startError('forkserver', 'the pool closed before the zygote was ready'));
      this.killNow();
      return;
    }
    if (this.children.size === 0 && this.pending.size === 0) {
      this.killNow();
      return;
    }
    if (graceMs === undefined) return;
    this.whenIdle = setTimeout(() => this.killNow(), graceMs);
    this.whenIdle.unref();
  }

  /** SIGKILL the zygote's group at once (host exit). */
  killNow(): void {
    if (!this.exited && this.pid !== undefined) killGroup(this.pid, 'SIGKILL');
  }
}
