/**
 * A worker process forked by the zygote, known by the pid the zygote reported. The host is not its
 * parent, so its exit is learnt from the zygote (which reaps it and reports the code or signal);
 * when the zygote that forked it has died, from polling its pid (and process start time, so that a
 * reused pid is never taken for the worker): the exit is then reported without code or signal.
 * Its stdout and stderr arrive through the zygote as well and are replayed on two streams.
 */

import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { PassThrough } from 'node:stream';
import { processStartTime, readStat } from '../procfs.js';

const POLL_MS = 100;
const TAIL_BYTES = 8 * 1024;

/** Signal numbers to names; of two names for one number (SIGABRT, SIGIOT) the first listed wins. */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, num] of Object.entries(constants.signals)) {
  if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name as NodeJS.Signals);
}

export function signalName(num: number | null | undefined): NodeJS.Signals | null {
  return num == null ? null : (SIGNAL_NAMES.get(num) ?? null);
}

export class ForkedProcess extends EventEmitter<{ exit: [number | null, NodeJS.Signals | null]; error: [Error] }> {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** Last bytes of stderr, for an error when the worker dies before it connects. */
  stderrTail = '';
  exited = false;
  private readonly startTime: number | undefined;
  private poll: NodeJS.Timeout | undefined;

  private refed = false;

  /** `holder` keeps the zygote's channel (which brings this worker's exit) on the host's event loop. */
  constructor(
    readonly pid: number,
    private holder: { hold(): void; release(): void } | undefined,
  ) {
    super();
    this.startTime = processStartTime(pid);
  }

  /** A piece of the worker's output, forwarded by the zygote. */
  output(stream: 1 | 2, text: string): void {
    if (this.exited) return;
    if (stream === 2) {
      this.stderrTail = (this.stderrTail + text).slice(-TAIL_BYTES);
      this.stderr.write(text);
    } else {
      this.stdout.write(text);
    }
  }

  /** The zygote reaped the worker (all its output came before). */
  exit(code: number | null, signal: number | null): void {
    this.finish(code, signalName(signal));
  }

  /** The zygote that forked this worker died: watch the pid from now on. */
  orphaned(): void {
    if (this.exited || this.poll !== undefined) return;
    this.poll = setInterval(() => {
      if (!this.alive()) this.finish(null, null);
    }, POLL_MS);
    if (!this.refed) this.poll.unref();
    if (this.refed) this.holder?.release();
    this.holder = undefined;
    if (!this.alive()) this.finish(null, null);
  }

  private alive(): boolean {
    const stat = readStat(this.pid);
    if (stat === undefined) return false;
    if (this.startTime !== undefined && stat.startTime !== this.startTime) return false;
    return stat.state !== 'Z' && stat.state !== 'X';
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    if (this.poll !== undefined) clearInterval(this.poll);
    this.unref();
    this.stdout.end();
    this.stderr.end();
    this.emit('exit', code, signal);
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
