/**
 * `snakepit dashboard --attach SOCKET`: serves, on TCP, the dashboard that a running pool exposes on
 * a Unix socket (`serveDashboard(pool, { socket })`), by forwarding each request (the event stream
 * included) to that socket. The token, when there is one, is checked here.
 */

import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { InvalidOptionsError } from '../errors.js';
import { authorised, checkDashboardOptions, listen, type Dashboard, type DashboardOptions } from './http.js';

/** Check that `socket` answers, then serve it on `options.host`:`options.port`. */
export async function attachDashboard(socket: string, options?: Omit<DashboardOptions, 'socket' | 'interval'>): Promise<Dashboard> {
  const { port, host, token } = checkDashboardOptions(options);
  await new Promise<void>((resolve, reject) => {
    const probe = request({ socketPath: socket, path: '/snapshot', method: 'GET' }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new InvalidOptionsError(`${socket} answered ${res.statusCode}: not a snakepit dashboard socket`));
    });
    probe.on('error', (err) => reject(new InvalidOptionsError(`cannot reach a dashboard at ${socket}: ${err.message}`)));
    probe.end();
  });
  const upstreams = new Set<IncomingMessage>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!authorised(req, url, token)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('a valid token is required\n');
      return;
    }
    url.searchParams.delete('token');
    const forward = request({ socketPath: socket, path: url.pathname + url.search, method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (up) => {
      upstreams.add(up);
      up.on('close', () => upstreams.delete(up));
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('the pool behind this dashboard is gone\n');
    });
    req.on('close', () => forward.destroy());
    forward.end();
  });
  return listen(server, { port, host, token, socket: undefined }, () => {
    for (const up of upstreams) up.destroy();
  });
}
