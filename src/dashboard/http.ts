/** What the dashboard's server and its attaching proxy share: options, the token check, listening. */

import { nodeCrypto } from '../boot/crypto.js';
import { chmodSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionsError } from '../errors.js';

export interface DashboardOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Address to bind. Default `127.0.0.1`; any other address requires `token`. */
  host?: string;
  /** Secret required in `?token=` or `Authorization: Bearer` (at least 16 characters). */
  token?: string;
  /** Milliseconds between updates. Default 1000. */
  interval?: number;
  /**
   * Listen on this Unix socket path instead of TCP (mode 0600; `port` and `host` are then not used):
   * `snakepit dashboard --attach PATH` serves it from another process.
   */
  socket?: string;
}

export interface Dashboard {
  /** The page's address, with the token when there is one. */
  readonly url: string;
  /** The TCP port (0 on a Unix socket). */
  readonly port: number;
  /** The address bound, or the socket path. */
  readonly host: string;
  /** Stop serving and detach from the pool. The pool keeps running. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface CheckedOptions {
  port: number;
  host: string;
  interval: number;
  token: string | undefined;
  socket: string | undefined;
}

export function checkDashboardOptions(options: DashboardOptions | undefined): CheckedOptions {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new InvalidOptionsError('dashboard options must be an object');
  for (const key of Object.keys(o)) {
    if (!['port', 'host', 'token', 'interval', 'socket'].includes(key)) {
      throw new InvalidOptionsError(`dashboard option ${key} is unknown (known: port, host, token, interval, socket)`);
    }
  }
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidOptionsError(`dashboard port must be an integer from 0 to 65535, got ${String(port)}`);
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw new InvalidOptionsError('dashboard host must be a non-empty string');
  const interval = o.interval ?? 1000;
  if (!Number.isInteger(interval) || interval < 100) throw new InvalidOptionsError(`dashboard interval must be an integer >= 100 ms, got ${String(interval)}`);
  const token = o.token;
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) {
    throw new InvalidOptionsError('dashboard token must be a string of at least 16 characters');
  }
  const socket = o.socket;
  if (socket !== undefined && (typeof socket !== 'string' || socket === '')) throw new InvalidOptionsError('dashboard socket must be a non-empty path');
  if (socket !== undefined && (o.port !== undefined || o.host !== undefined)) {
    throw new InvalidOptionsError('dashboard socket and port/host exclude each other');
  }
  if (socket === undefined && !LOOPBACK.has(host) && token === undefined) {
    throw new InvalidOptionsError(
      `the dashboard shows tracebacks and arguments' errors: binding it to ${host} requires a token (or bind 127.0.0.1)`,
    );
  }
  return { port, host, interval, token, socket };
}

export function authorised(req: IncomingMessage, url: URL, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization;
  const given = url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : '');
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && nodeCrypto().timingSafeEqual(a, b);
}

/** Listen as `where` says; the Dashboard's close() runs `stop`, then closes every connection. */
export async function listen(
  server: Server,
  where: { port: number; host: string; token: string | undefined; socket: string | undefined },
  stop: () => void,
): Promise<Dashboard> {
  const { port, host, token, socket } = where;
  if (socket !== undefined) rmSync(socket, { force: true }); // a socket file left by a process that died
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (socket !== undefined) server.listen(socket, done);
    else server.listen(port, host, done);
  });
  server.unref();
  if (socket !== undefined) chmodSync(socket, 0o600);
  const bound = socket !== undefined ? 0 : (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  const query = token !== undefined ? `?token=${encodeURIComponent(token)}` : '';
  return {
    url: socket !== undefined ? `unix:${socket}` : `http://${shown}:${bound}/${query}`,
    port: bound,
    host: socket ?? host,
    close: async () => {
      stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // idle keep-alive connections of browsers would hold close() open
      await closed;
    },
  };
}
