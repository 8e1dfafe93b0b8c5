/**
 * The pipe transport: the worker is a child process and the protocol runs on two pipes it inherits,
 * fd 3 (host to worker) and fd 4 (worker to host). Node makes them socket pairs. EOF on fd 3 is the
 * worker's lifeline: the kernel closes it when the host dies, even on SIGKILL.
 */

import type { Readable, Writable } from 'node:stream';
import { LocalProcess } from '../worker/process.js';
import type { Channel, LaunchSpec, ProcessEvents, Transport, WorkerProcess } from './transport.js';

interface Refable {
  ref?: () => void;
  unref?: () => void;
}

export class PipeTransport implements Transport {
  readonly kind = 'pipe' as const;

  open(): Promise<void> {
    return Promise.resolve();
  }

  launch(spec: LaunchSpec, events: ProcessEvents): WorkerProcess {
    const proc = new LocalProcess(spec, events, 2);
    const output = proc.child.stdio[3] as Writable;
    const input = proc.child.stdio[4] as Readable;
    (output as unknown as Refable).unref?.();
    const channel: Channel = {
      input,
      output,
      ref: () => (input as unknown as Refable).ref?.(),
      unref: () => (input as unknown as Refable).unref?.(),
    };
    return {
      get pid() {
        return proc.pid;
      },
      get stderrTail() {
        return proc.stderrTail;
      },
      channel: proc.pid === undefined ? new Promise<Channel>(() => {}) : Promise.resolve(channel),
      noteStderr: (line) => proc.noteStderr(line),
      signal: (signal) => proc.signal(signal),
      ref: () => proc.ref(),
      unref: () => proc.unref(),
    };
  }

  close(): void {}
}
