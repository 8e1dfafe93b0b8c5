/**
 * The socket transport: the worker is a child process that inherits no protocol pipes. It gets
 * SNAKEPIT_CONNECT (the pool's connect-back socket) and SNAKEPIT_TOKEN (a one-time token) in its
 * environment, connects, sends the token, then speaks the protocol over that one socket. EOF on the
 * socket without `shutdown` is its lifeline, as EOF on fd 3 is for the pipe transport.
 */

import type net from 'node:net';
import { dirname } from 'node:path';
import { LocalProcess } from '../worker/process.js';
import { ConnectBackListener } from './connect-back.js';
import type { Channel, LaunchSpec, ProcessEvents, Transport, WorkerProcess } from './transport.js';

export class SocketTransport implements Transport {
  readonly kind = 'socket' as const;
  private readonly listener: ConnectBackListener;

  /** `baseDir`: where the socket's private folder is made (the pool's stateDir when it has one). */
  constructor(baseDir: string | undefined) {
    this.listener = new ConnectBackListener(baseDir);
  }

  open(): Promise<void> {
    return this.listener.listen();
  }

  launch(spec: LaunchSpec, events: ProcessEvents): WorkerProcess {
    const expectation = this.listener.expect(spec.startupTimeout);
    // A sandboxed worker sees the socket's folder, which may lie in a masked one (/tmp).
    const sandbox = spec.sandbox && { ...spec.sandbox, writable: [...spec.sandbox.writable, dirname(this.listener.path)] };
    const proc = new LocalProcess(
      { ...spec, sandbox },
      {
        onLine: events.onLine,
        onSpawnError: (err) => {
          expectation.cancel();
          events.onSpawnError(err);
        },
        onExit: (code, signal) => {
          expectation.cancel();
          events.onExit(code, signal);
        },
      },
      0,
      { ...expectation.env },
    );
    return {
      get pid() {
        return proc.pid;
      },
      get stderrTail() {
        return proc.stderrTail;
      },
      channel: expectation.socket.then(socketChannel),
      noteStderr: (line) => proc.noteStderr(line),
      signal: (signal) => proc.signal(signal),
      ref: () => proc.ref(),
      unref: () => proc.unref(),
    };
  }

  close(): void {
    this.listener.close();
  }
}

function socketChannel(socket: net.Socket): Channel {
  return { input: socket, output: socket, ref: () => socket.ref(), unref: () => socket.unref() };
}
