/**
 * A worker process forked by the zygote, known by the pid the zygote reported. The host is not its
 * parent, so its exit is learnt from the zygote (which reaps it and reports the code or signal);
 * when the zygote that forked it has died, from polling its pid (and process start time, so that a
 * reused pid is never taken for the worker): the exit is then reported without code or signal.
 * Its stdout and stderr arrive through the zygote as well, before its exit, and are split into lines.
 */

import { constants } from 'node:os';
import { processStartTime, readStat } from '../procfs.js';

const POLL_MS = 100;
const MAX_LINE = 16 * 1024;

/** Signal numbers to names; of two names for one number (SIGABRT, SIGIOT) the first listed wins. */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(constants.signals)) {
  if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name as NodeJS.Signals);
}

function signalName(num: number | null | undefined): NodeJS.Signals | null {
  return num == null ? null : (SIGNAL_NAMES.get(num) ?? null);
}

/** Where a forked worker's news goes (the fork-server transport). */
export interface ForkedSink {
  line(stream: 'stdout' | 'stderr', line: string): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
}

export class ForkedProcess {
  exited = false;
  /** It died with the (sandboxed) zygote that forked it: see WorkerProcess.lostWithZygote. */
  lostWithZygote = false;
  private readonly startTime: number | undefined;
  private poll: NodeJS.Timeout | undefined;
  private refed = false;
  private readonly partial = { stdout: '', stderr: '' };

  /** `holder` keeps the zygote's channel (which brings this worker's exit) on the host's event loop. */
  constructor(
    readonly pid: number,
    private holder: { hold(): void; release(): void } | undefined,
    private readonly sink: ForkedSink,
  ) {
    this.startTime = processStartTime(pid);
  }

  /** A piece of the worker's output, forwarded by the zygote. */
  output(fd: 1 | 2, text: string): void {
    if (this.exited) return;
    const stream = fd === 2 ? 'stderr' : 'stdout';
    let rest = this.partial[stream] + text;
    let nl: number;
    while ((nl = rest.indexOf('\n')) !== -1) {
      this.sink.line(stream, rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
    while (rest.length > MAX_LINE) {
      this.sink.line(stream, rest.slice(0, MAX_LINE));
      rest = rest.slice(MAX_LINE);
    }
    this.partial[stream] = rest;
  }

  /** The zygote reaped the worker (all its output came before). */
  exit(code: number | null, signal: number | null): void {
    this.finish(code, signalName(signal));
  }

  /**
   * The zygote that forked this worker died: watch the pid from now on. `killedBy`: the signal the
   * worker's death will have been (a sandboxed zygote's workers are SIGKILLed by the kernel with the
   * pid namespace); otherwise the exit is reported without code or signal.
   */
  orphaned(killedBy: NodeJS.Signals | null = null): void {
    if (this.exited || this.poll !== undefined) return;
    if (killedBy !== null) this.lostWithZygote = true;
    this.poll = setInterval(() => {
      if (!this.alive()) this.finish(null, killedBy);
    }, POLL_MS);
    if (!this.refed) this.poll.unref();
    if (this.refed) this.holder?.release();
    this.holder = undefined;
    if (!this.alive()) this.finish(null, killedBy);
  }

  private alive(): boolean {
    const stat = readStat(this.pid);
    if (stat === undefined) return false;
    if (this.startTime !== undefined && stat.startTime !== this.startTime) return false;
    return stat.state !== 'Z' && stat.state !== 'X';
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.sink.line(stream, this.partial[stream]);
    }
    this.exited = true;
    if (this.poll !== undefined) clearInterval(this.poll);
    this.unref();
    this.sink.exit(code, signal);
  }

  /** Keep the host's event loop alive until this worker's exit is known (as a ChildProcess does). */
  ref(): void {
    if (this.refed || this.exited) return;
    this.refed = true;
    this.holder?.hold();
    this.poll?.ref();
  }

  unref(): void {
    if (!this.refed) return;
    this.refed = false;
    this.holder?.release();
    this.poll?.unref();
  }
}
