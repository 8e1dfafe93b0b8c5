/**
 * The transport seam: how a worker's process is started and controlled, and how the byte stream that
 * the protocol runs over reaches the host. A connection (src/connection/) speaks the protocol over
 * whatever `Channel` a transport hands it; it knows nothing of processes.
 *
 * Two transports exist: `pipe` (fd 3/4 inherited from the spawning host, pipe.ts) and `socket` (the
 * worker connects back to a Unix socket of the pool with a one-time token, socket.ts). A fork server
 * reuses the connect-back listener (connect-back.ts) with a process whose pid the zygote reports; a
 * remote worker gets a channel from its agent and a `WorkerProcess` whose signals go to that agent.
 */

import type { Readable, Writable } from 'node:stream';
import type { ResolvedSandbox } from '../security/sandbox.js';

/** The duplex byte stream one worker's protocol runs over. */
export interface Channel {
  /** Bytes from the worker. */
  readonly input: Readable;
  /** Bytes to the worker. `end()` tells the worker that nothing more comes (after `shutdown`). */
  readonly output: Writable;
  /** Keep the host's event loop alive while waiting on this channel, or stop doing so. */
  ref(): void;
  unref(): void;
}

/** What a transport needs to start one worker. */
export interface LaunchSpec {
  readonly workerId: number;
  readonly python: string;
  readonly adapter: string;
  readonly cwd: string | undefined;
  /** The worker's environment on top of the host's: user values and every SNAKEPIT_* setting. */
  readonly env: Readonly<Record<string, string>>;
  /** How long the worker has to connect (a connect-back token expires then). */
  readonly startupTimeout: number;
  /** Run the worker under bubblewrap (src/security/sandbox.ts). */
  readonly sandbox?: ResolvedSandbox | undefined;
}

/** What the process side tells its worker handle. */
export interface ProcessEvents {
  /** A line the process wrote on stdout or stderr (never parsed). */
  onLine(stream: 'stdout' | 'stderr', line: string): void;
  /** The process could not be started at all (for example, no such executable). */
  onSpawnError(error: NodeJS.ErrnoException): void;
  /** The process exited and its output was read to the end (or for a short bounded time). */
  onExit(code: number | null, signal: NodeJS.Signals | null): void;
}

/** Control of one worker's process, wherever it runs. */
export interface WorkerProcess {
  /** Known at spawn for a child process; reported later for a forked or remote one. */
  readonly pid: number | undefined;
  /** The last lines of stderr, for error messages. */
  readonly stderrTail: string;
  /**
   * Resolves once the worker's byte stream is there: at once for inherited pipes, after the
   * connect-back handshake for a socket. Rejects if it never comes; the process is then killed by
   * the worker handle.
   */
  readonly channel: Promise<Channel>;
  /**
   * The process died with the fork server that forked it (a sandboxed zygote takes its workers with
   * its pid namespace): the zygote's failure, counted once by the fork server's own breaker, not the
   * worker's. Unset for every other process.
   */
  readonly lostWithZygote?: boolean;
  /**
   * Resolves when the process begins to start, where that is later than the launch: a worker asked of
   * a fork server whose zygote still loads starts once the zygote is ready. The worker's
   * `startupTimeout` counts from then. Absent: from the launch.
   */
  readonly starting?: Promise<void>;
  /** A line the worker sent as its stderr through the protocol (a tool's output): kept in the tail. */
  noteStderr(line: string): void;
  /** Send `signal` to the worker's whole process group. */
  signal(signal: NodeJS.Signals): void;
  ref(): void;
  unref(): void;
}

/** A way to start workers and reach them; one per pool. */
export interface Transport {
  readonly kind: TransportKind;
  /** Prepare (for example, listen on the connect-back socket); called once before any launch. */
  open(): Promise<void>;
  launch(spec: LaunchSpec, events: ProcessEvents): WorkerProcess;
  /** Release what `open` took (the socket and its folder); workers already connected are unaffected. */
  close(): void;
}

export type TransportKind = 'pipe' | 'socket' | 'forkserver';
