/**
 * `serveDashboard(pool, options)`: a live web page about one pool, served by the library itself (no
 * build step, nothing loaded from elsewhere), updated through server-sent events.
 *
 * Routes: `/` the page, `/events` the SSE stream (one `snapshot` event per interval), `/snapshot`
 * one snapshot as JSON, `/metrics` the Prometheus text. Bound to 127.0.0.1 by default; bound to any
 * other address it requires a token, given as `?token=` or `Authorization: Bearer`.
 */

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionsError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import { poolCore } from '../pool/pool.js';
import { renderPage } from './page.js';
import { PoolWatch } from './snapshot.js';

export interface DashboardOptions {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /** Address to bind. Default `127.0.0.1`; any other address requires `token`. */
  host?: string;
  /** Secret required in `?token=` or `Authorization: Bearer` (at least 16 characters). */
  token?: string;
  /** Milliseconds between updates. Default 1000. */
  interval?: number;
}

export interface Dashboard {
  /** The page's address, with the token when there is one. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Stop serving and detach from the pool. The pool keeps running. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function check(options: DashboardOptions | undefined): Required<Omit<DashboardOptions, 'token'>> & { token: string | undefined } {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) throw new InvalidOptionsError('dashboard options must be an object');
  for (const key of Object.keys(o)) {
    if (!['port', 'host', 'token', 'interval'].includes(key)) {
      throw new InvalidOptionsError(`dashboard option ${key} is unknown (known: port, host, token, interval)`);
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
  if (!LOOPBACK.has(host) && token === undefined) {
    throw new InvalidOptionsError(
      `the dashboard shows tracebacks and arguments' errors: binding it to ${host} requires a token (or bind 127.0.0.1)`,
    );
  }
  return { port, host, interval, token };
}

function authorised(req: IncomingMessage, url: URL, token: string | undefined): boolean {
  if (token === undefined) return true;
  const header = req.headers.authorization;
  const given = url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : '');
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Serve a live dashboard of `pool`. Throws INVALID_OPTIONS for bad options. */
export async function serveDashboard(pool: Pool, options?: DashboardOptions): Promise<Dashboard> {
  const { port, host, interval, token } = check(options);
  const core = poolCore(pool);
  if (core === undefined) throw new InvalidOptionsError('serveDashboard needs a Pool made by Pool.start');
  const watch = new PoolWatch(core);
  const clients = new Set<ServerResponse>();
  const timer = setInterval(() => {
    if (clients.size === 0) return;
    const frame = `event: snapshot\ndata: ${JSON.stringify(watch.snapshot())}\n\n`;
    for (const res of clients) res.write(frame);
  }, interval);
  timer.unref();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!authorised(req, url, token)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('a valid token is required\n');
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    switch (url.pathname) {
      case '/': {
        const nonce = randomBytes(16).toString('base64');
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          // Nothing but this page's own inline script and style, and its own event stream.
          'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'`,
          'x-content-type-options': 'nosniff',
        });
        res.end(renderPage(nonce, interval));
        return;
      }
      case '/events': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(`retry: ${interval}\n\n`);
        res.write(`event: snapshot\ndata: ${JSON.stringify(watch.snapshot())}\n\n`);
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      }
      case '/snapshot':
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(watch.snapshot()));
        return;
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(pool.metricsText());
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${bound}/${token !== undefined ? `?token=${encodeURIComponent(token)}` : ''}`;
  return {
    url,
    port: bound,
    host,
    close: async () => {
      clearInterval(timer);
      watch.stop();
      for (const res of clients) res.end();
      clients.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections(); // idle keep-alive connections of browsers would hold close() open
      await closed;
    },
  };
}
