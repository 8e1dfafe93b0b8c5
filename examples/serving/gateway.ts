/**
 * The serving demo: a pool behind the HTTP gateway, with a page that streams tokens from a Python
 * generator and sends batched predictions. Run `node --import tsx examples/serving/gateway.ts`, then
 * open http://127.0.0.1:8080/ (PORT and HOST override the address).
 */

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGateway, Pool } from '../../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function startDemo(port: number, host = '127.0.0.1'): Promise<{ pool: Pool; server: Server; url: string; stop: () => Promise<void> }> {
  const pool = await Pool.start({ adapter: path.join(here, 'tools.py'), size: 2 });
  const gateway = createGateway(pool, { pages: { '/': { contentType: 'text/html; charset=utf-8', body: readFileSync(path.join(here, 'index.html')) } } });
  const server = createServer();
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const url = `http://${host}:${(server.address() as AddressInfo).port}/`;
  const stop = async (): Promise<void> => {
    await gateway.drain();
    await new Promise((resolve) => server.close(resolve));
    await pool.close();
  };
  return { pool, server, url, stop };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url, stop } = await startDemo(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
  console.log(`serving demo on ${url} (Ctrl-C stops)`);
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
