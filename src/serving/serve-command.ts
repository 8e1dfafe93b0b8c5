/**
 * `snakepit serve <adapter> [--port N] [--host H] [--size N] [--token TOKEN=TENANT]... [--python P]
 * [--expose-tracebacks]`: a pool behind the HTTP gateway. SIGTERM or SIGINT drains (running calls
 * finish, new ones get 503), then closes the pool and exits 0.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from '../pool/pool.js';
import { createGateway } from './gateway/handler.js';

export const SERVE_HELP = `usage: snakepit serve <adapter> [options]

Runs a pool of Python workers for <adapter> behind the HTTP gateway (docs/serving.md):
POST /v1/tools/{name}, server-sent events for generators, WebSocket at /v1/ws,
GET /v1/openapi.json, /healthz and /readyz. SIGTERM drains, then exits.

options:
  --port N              port to listen on (default 8080; 0 picks a free one)
  --host H              address to bind (default 127.0.0.1)
  --size N              worker processes (default: the pool's default)
  --token TOKEN=TENANT  accept this bearer token (or x-api-key) as TENANT; repeatable.
                        Without any, requests need no credentials.
  --python P            Python executable
  --expose-tracebacks   put Python tracebacks in error responses
  -h, --help            this help

exit codes: 0 stopped cleanly, 1 the pool or the server could not start, 2 bad usage`;

export async function serveCommand(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        size: { type: 'string' },
        token: { type: 'string', multiple: true },
        python: { type: 'string' },
        'expose-tracebacks': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(`snakepit serve: ${(err as Error).message}\n\n${SERVE_HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(SERVE_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`snakepit serve: expected one adapter, got ${positionals.length}\n\n${SERVE_HELP}`);
    return 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`snakepit serve: --port must be an integer from 0 to 65535, got ${values.port}`);
    return 2;
  }
  const tokens: Record<string, string> = {};
  for (const t of values.token ?? []) {
    const eq = t.indexOf('=');
    if (eq <= 0 || eq === t.length - 1) {
      console.error(`snakepit serve: --token takes TOKEN=TENANT, got ${JSON.stringify(t)}`);
      return 2;
    }
    tokens[t.slice(0, eq)] = t.slice(eq + 1);
  }
  let pool: Pool;
  try {
    pool = await Pool.start({
      adapter: positionals[0]!,
      ...(values.size !== undefined ? { size: Number(values.size) } : {}),
      ...(values.python !== undefined ? { python: values.python } : {}),
    });
  } catch (err) {
    console.error(`snakepit serve: the pool could not start: ${(err as Error).message}`);
    return 1;
  }
  const gateway = createGateway(pool, { ...(Object.keys(tokens).length > 0 ? { auth: tokens } : {}), exposeTracebacks: values['expose-tracebacks'] });
  const server = createServer();
  gateway.attach(server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, values.host, resolve);
    });
  } catch (err) {
    console.error(`snakepit serve: cannot listen on ${values.host}:${port}: ${(err as Error).message}`);
    await pool.destroy();
    return 1;
  }
  const address = server.address() as AddressInfo;
  out(`snakepit serve: listening on http://${address.address}:${address.port} (${pool.tools().length} tools)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  out('snakepit serve: draining');
  await gateway.drain();
  await new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await pool.close();
  out('snakepit serve: stopped');
  return 0;
}
