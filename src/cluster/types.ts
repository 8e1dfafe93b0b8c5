/**
 * The surface shared by a local pool (`Pool.start`) and a remote one (`Pool.connect`): code written
 * against `PoolLike` (and the generated typed clients) runs against either.
 */

import type { ErrorCode } from '../errors.js';
import type { ExecuteOptions, HostToolOptions, PythonCallOptions, SessionOptions, StreamOptions } from '../call-options.js';
import type { HostToolFn, HostToolInfo } from '../pool/host-tools.js';
import type { ToolInfo } from '../pool/tools.js';

/** A streaming call: iterate it; leaving the loop early (or `cancel()`) stops the Python generator. */
export interface CallStream<T = unknown> extends AsyncIterableIterator<T> {
  /** Stop the stream: the generator's `finally` runs in Python; buffered chunks are dropped. */
  cancel(): void;
  /** Chunks received and not yet taken. */
  readonly buffered: number;
}

/** Counters every pool reports, local or remote. */
export interface BasicStats {
  readonly state: string;
  readonly inFlight: number;
  readonly queued: number;
  readonly submitted: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly failedByCode: Readonly<Partial<Record<ErrorCode, number>>>;
}

/** Allowlisted Python calls by dotted name (`pool.python.call('math.sqrt', [2])`). */
export interface PythonCaller {
  call<T = unknown>(name: string, args?: unknown[], options?: PythonCallOptions): Promise<T>;
}

/** A session: calls that share Python state on one worker. */
export interface SessionLike {
  readonly id: string;
  readonly state: 'open' | 'lost' | 'closed';
  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T>;
  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: StreamOptions): CallStream<T>;
  close(): Promise<void>;
}

/** What a local `Pool` and a remote pool (`Pool.connect`) both offer. */
export interface PoolLike {
  readonly state: string;
  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T>;
  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: StreamOptions): CallStream<T>;
  session(id?: string, options?: SessionOptions): SessionLike;
  readonly python: PythonCaller;
  registerTool(name: string, fn: HostToolFn, options?: HostToolOptions): () => void;
  unregisterTool(name: string): boolean;
  hostTools(): readonly HostToolInfo[];
  tools(): readonly ToolInfo[];
  stats(): BasicStats;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** How to reach the NATS server(s). Every field but `servers` is optional. */
export interface NatsConnectOptions {
  /** `nats://host:4222`, `tls://host:4222`, or a list of them. */
  servers: string | string[];
  token?: string;
  user?: string;
  pass?: string;
  /** An nkey seed (`SU...`): authenticates with the nkey of that seed. */
  nkeySeed?: string;
  /** TLS: file paths of the CA that signed the server's certificate, and an optional client cert and key. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** A name shown by the server's monitoring. */
  name?: string;
}

/** `Pool.connect(options)`. */
export interface ConnectOptions {
  nats: NatsConnectOptions;
  /** The remote pool's name: agents started with `--pool <name>`. */
  pool: string;
  /** Default deadline of a call in ms (0: none). Default 60000. */
  timeout?: number;
  /** Extra attempts of an idempotent call whose agent was lost. Default 2. */
  retries?: number;
  /** Ms without a heartbeat after which an agent counts as gone. Default: 3 heartbeats of the agent. */
  staleAfter?: number;
  /** Ms to wait at connect for a first agent to appear. Default 5000 (0: do not wait). */
  waitForAgents?: number;
  /** Default credit window of streams. Default 64. */
  streamWindow?: number;
  /** Largest result or argument payload in bytes. Default 256 MiB. */
  maxPayload?: number;
}
