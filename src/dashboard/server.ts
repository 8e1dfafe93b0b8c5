/**
 * `serveDashboard(pool, options)`: a live web page about one pool, served by the library itself (no
 * build step, nothing loaded from elsewhere), updated through server-sent events.
 *
 * Routes: `/` the page, `/events` the SSE stream (one `snapshot` event per interval), `/snapshot`
 * one snapshot as JSON, `/metrics` the Prometheus text. Bound to 127.0.0.1 by default; bound to any
 * other address it requires a token, given as `?token=` or `Authorization: Bearer`. With `socket`,
 * it listens on a Unix socket (mode 0600) instead, for `snakepit dashboard --attach` (attach.ts).
 */

import { nodeCrypto } from '../boot/crypto.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionsError } from '../errors.js';
import type { Pool } from '../pool/pool.js';
import { poolCore } from '../pool/pool.js';
import { renderPage } from './page.js';
import { PoolWatch } from './snapshot.js';
import { authorised, checkDashboardOptions, listen, type Dashboard, type DashboardOptions } from './http.js';
import { importModule } from '../boot/import.js';

export type { Dashboard, DashboardOptions } from './http.js';

/** Serve a live dashboard of `pool`. Throws INVALID_OPTIONS for bad options. */
export async function serveDashboard(pool: Pool, options?: DashboardOptions): Promise<Dashboard> {
  const { port, host, interval, token, socket } = checkDashboardOptions(options);
  const core = poolCore(pool);
  if (core === undefined) throw new InvalidOptionsError('serveDashboard needs a Pool made by Pool.start');
  // Loaded here rather than with the library: only the dashboard serves HTTP, and node:http adds about
  // 1 ms to every load of the package (docs/architecture.md, Decisions).
  const { createServer } = await importModule<typeof import('node:http')>('node:http');
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
        const nonce = nodeCrypto().randomBytes(16).toString('base64');
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

  const server = createServer(handle);
  return listen(server, { port, host, token, socket }, () => {
    clearInterval(timer);
    watch.stop();
    for (const res of clients) res.end();
    clients.clear();
  });
}
