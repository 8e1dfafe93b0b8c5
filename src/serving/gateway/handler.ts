/**
 * The HTTP gateway: a `node:http` request handler over a pool (usable alone, or mounted in Express,
 * Fastify or Hono), with server-sent events for streams, WebSocket for sessions (websocket.ts),
 * problem details for errors, an OpenAPI document, health and readiness, and a graceful drain.
 *
 *   POST /v1/tools/{name}          JSON (or MessagePack) keyword arguments in, the result out;
 *                                  a generator tool answers server-sent events with `Accept: text/event-stream`,
 *                                  else the JSON array of its chunks
 *   GET  /v1/tools/{name}/stream   server-sent events for EventSource: `?args=<JSON>`
 *   GET  /v1/tools                 the catalogue
 *   GET  /v1/openapi.json          OpenAPI 3.1
 *   GET  /healthz, /readyz         liveness; readiness (503 while draining or when the pool cannot take calls)
 *   GET  /v1/ws                    WebSocket upgrade (websocket.ts)
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ExecuteOptions } from '../../call-options.js';
import { InvalidArgumentsError, SnakepitError } from '../../errors.js';
import { describe } from '../../option-checks.js';
import type { Pool } from '../../pool/pool.js';
import { decodeMsgpack } from '../../protocol/msgpack-decode.js';
import { frameBytes } from '../../protocol/frames.js';
import { MsgpackEncoder } from '../../protocol/msgpack-encode.js';
import { fromJson, toJson } from './json.js';
import { openApiDocument } from './openapi.js';
import { httpProblem, problemOf, sendProblem, type Problem } from './problem.js';
import { WebSocketSessions } from './websocket.js';
import { checkGatewayOptions, clientTimeout, type GatewayOptions } from './options.js';

export type { GatewayAuth, GatewayOptions } from './options.js';

export interface Gateway {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** Handles an HTTP upgrade to WebSocket (`server.on('upgrade', gateway.upgrade)`). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Wires a server: requests, upgrades. */
  attach(server: Server): void;
  /** Stop taking new calls (503, readiness fails), wait for those running, close WebSockets. */
  drain(): Promise<void>;
  /** The OpenAPI 3.1 document. */
  openapi(): Record<string, unknown>;
}

const MSGPACK = /^application\/(x-|vnd\.)?msgpack\b/;
/** Read as JSON: what fetch and curl send by default for a text body, besides application/json. */
const JSONISH = /^(application\/json|text\/plain|application\/x-www-form-urlencoded)\b/;

class HttpError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

export function createGateway(pool: Pool, options?: GatewayOptions): Gateway {
  const { maxBody, maxTimeout, expose, auth, pages, info } = checkGatewayOptions(pool, options);
  const encoder = new MsgpackEncoder();
  let draining = false;
  let running = 0;
  let idle: (() => void) | undefined;
  const sockets = new WebSocketSessions(pool, expose, maxTimeout);

  async function tenantOf(req: IncomingMessage, url: URL): Promise<string | undefined> {
    if (auth === undefined) return undefined;
    const header = req.headers.authorization;
    const credential =
      (typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : undefined) ??
      (typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : undefined) ??
      url.searchParams.get('access_token') ??
      undefined;
    const tenant: unknown = typeof auth === 'function' ? await auth(credential, req) : credential !== undefined && Object.hasOwn(auth, credential) ? auth[credential] : undefined;
    if (tenant === undefined || tenant === null) throw new HttpError(httpProblem('UNAUTHORIZED', credential === undefined ? 'credentials are required (Authorization: Bearer, or x-api-key)' : 'unknown credentials'));
    // A server-side mistake, not the client's: a 500, and a warning that says what came back.
    if (typeof tenant !== 'string' || tenant === '') throw new Error(`the gateway's auth function returned ${describe(tenant)}, not a tenant name (or undefined to refuse)`);
    return tenant;
  }

  function callOptions(req: IncomingMessage, tenant: string | undefined, signal: AbortSignal): ExecuteOptions {
    const opts: ExecuteOptions = { signal };
    if (tenant !== undefined) opts.tenant = tenant;
    const t = req.headers['x-timeout-ms'];
    if (t !== undefined) {
      const ms = clientTimeout(t, maxTimeout);
      if (ms === undefined) throw new HttpError(httpProblem('BAD_REQUEST', 'x-timeout-ms must be a positive integer'));
      opts.timeout = ms;
    }
    return opts;
  }

  function readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > maxBody) {
        reject(new HttpError(httpProblem('PAYLOAD_TOO_LARGE', `request body of ${declared} bytes is over the limit of ${maxBody} bytes`)));
        return;
      }
      const parts: Buffer[] = [];
      let size = 0;
      req.on('data', (part: Buffer) => {
        size += part.length;
        if (size > maxBody) {
          reject(new HttpError(httpProblem('PAYLOAD_TOO_LARGE', `request body is over the limit of ${maxBody} bytes`)));
          req.destroy();
        } else parts.push(part);
      });
      req.on('end', () => resolve(Buffer.concat(parts)));
      req.on('error', reject);
    });
  }

  function parseArgs(body: Buffer, type: string | undefined): Record<string, unknown> {
    if (body.length === 0) return {};
    let value: unknown;
    try {
      value = type !== undefined && MSGPACK.test(type) ? decodeMsgpack(body) : fromJson(body.toString('utf8'));
    } catch (err) {
      if (err instanceof InvalidArgumentsError) throw new HttpError(problemOf(err, false));
      throw new HttpError(httpProblem('BAD_REQUEST', `the request body is not valid ${type !== undefined && MSGPACK.test(type) ? 'MessagePack' : 'JSON'}`));
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
      throw new HttpError(httpProblem('INVALID_ARGUMENTS', 'the request body must be an object of keyword arguments'));
    }
    return value as Record<string, unknown>;
  }

  function send(res: ServerResponse, req: IncomingMessage, value: unknown): void {
    if (MSGPACK.test(String(req.headers.accept ?? ''))) {
      const body = frameBytes(encoder.encodeFrame(value)).subarray(4);
      res.writeHead(200, { 'content-type': 'application/msgpack', 'content-length': body.length });
      res.end(body);
      return;
    }
    const text = toJson(value);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function sse(res: ServerResponse, tool: string, args: Record<string, unknown>, opts: ExecuteOptions): Promise<void> {
    const stream = pool.stream(tool, args, opts);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    try {
      for await (const chunk of stream) {
        if (res.destroyed) break;
        if (!res.write(`event: chunk\ndata: ${toJson(chunk)}\n\n`)) await new Promise((r) => res.once('drain', r).once('close', r));
      }
      if (!res.destroyed) res.end('event: end\ndata: {}\n\n');
    } catch (err) {
      if (!res.destroyed) res.end(`event: error\ndata: ${JSON.stringify(problemOf(err, expose))}\n\n`);
    }
  }

  async function callTool(req: IncomingMessage, res: ServerResponse, url: URL, name: string, streamGet: boolean): Promise<void> {
    if (draining) throw new HttpError(httpProblem('DRAINING', 'the gateway is draining: it takes no new calls'));
    const tenant = await tenantOf(req, url);
    const info = pool.tools().find((t) => t.name === name);
    const controller = new AbortController();
    // A client that goes away cancels its call (a generator's `finally` runs in Python).
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    const opts = callOptions(req, tenant, controller.signal);
    let args: Record<string, unknown>;
    if (streamGet) {
      const raw = url.searchParams.get('args');
      args = raw === null ? {} : parseArgs(Buffer.from(raw), 'application/json');
    } else {
      const type = req.headers['content-type'];
      if (type !== undefined && !JSONISH.test(type) && !MSGPACK.test(type)) {
        throw new HttpError(httpProblem('UNSUPPORTED_MEDIA_TYPE', `content-type ${type} is not supported: send application/json or application/msgpack`));
      }
      args = parseArgs(await readBody(req), type);
    }
    if (info?.stream === true && (streamGet || String(req.headers.accept ?? '').includes('text/event-stream'))) {
      await sse(res, name, args, opts);
      return;
    }
    if (streamGet) throw new HttpError(httpProblem('NOT_STREAMING', `tool ${name} is not a generator: POST /v1/tools/${name}`));
    const result = await pool.execute(name, args, info?.stream === true ? { ...opts, collect: true } : opts);
    send(res, req, result);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const tool = /^\/v1\/tools\/([^/]+)(\/stream)?$/.exec(path);
    if (tool !== null) {
      const streamGet = tool[2] !== undefined;
      if (method !== (streamGet ? 'GET' : 'POST')) throw new HttpError(httpProblem('METHOD_NOT_ALLOWED', `${method} ${path}: use ${streamGet ? 'GET' : 'POST'}`));
      let name: string;
      try {
        name = decodeURIComponent(tool[1]!);
      } catch {
        throw new HttpError(httpProblem('BAD_REQUEST', 'the tool name is not valid percent-encoding'));
      }
      running++;
      try {
        await callTool(req, res, url, name, streamGet);
      } finally {
        running--;
        if (running === 0) idle?.();
      }
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      if (['/healthz', '/readyz', '/v1/tools', '/v1/openapi.json'].includes(path)) throw new HttpError(httpProblem('METHOD_NOT_ALLOWED', `${method} ${path}: use GET`));
      return false;
    }
    switch (path) {
      case '/healthz':
        send(res, req, { status: 'ok' });
        return true;
      case '/readyz': {
        const state = pool.state;
        const ready = !draining && (state === 'ready' || state === 'degraded');
        if (ready) send(res, req, { status: 'ready', pool: state });
        else sendProblem(res, httpProblem('DRAINING', draining ? 'the gateway is draining' : `the pool is ${state}`));
        return true;
      }
      case '/v1/tools':
        send(res, req, pool.tools());
        return true;
      case '/v1/openapi.json':
        send(res, req, gateway.openapi());
        return true;
      case '/v1/ws':
        // Reached only without an upgrade: the server was not wired with gateway.attach or `upgrade`.
        throw new HttpError(httpProblem('UPGRADE_REQUIRED', 'GET /v1/ws is a WebSocket: connect with an upgrade (a server wires it with gateway.attach(server))'));
    }
    const page = pages?.[path];
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': page.contentType, 'content-length': Buffer.byteLength(page.body) });
      res.end(page.body);
      return true;
    }
    return false;
  }

  const gateway = function handle(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void {
    route(req, res).then(
      (handled) => {
        if (handled) return;
        if (next !== undefined) next();
        else sendProblem(res, httpProblem('NOT_FOUND', `no route ${req.method ?? 'GET'} ${new URL(req.url ?? '/', 'http://x').pathname}`));
      },
      (err: unknown) => sendProblem(res, problemFor(err)),
    );
  } as Gateway;

  /** The problem an error answers with; one that no rule produced (a bug, a throwing auth function) is also a process warning. */
  function problemFor(err: unknown): Problem {
    if (err instanceof HttpError) return err.problem;
    if (!(err instanceof SnakepitError)) {
      process.emitWarning(`snakepit gateway: internal error: ${err instanceof Error ? err.message : String(err)}`, { code: 'SNAKEPIT_GATEWAY_ERROR' });
    }
    return problemOf(err, expose);
  }

  gateway.upgrade = (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    if (url.pathname !== '/v1/ws' || draining) {
      socket.end(`HTTP/1.1 ${draining ? '503 Service Unavailable' : '404 Not Found'}\r\nconnection: close\r\n\r\n`);
      return;
    }
    tenantOf(req, url).then(
      (tenant) => sockets.accept(req, socket, head, tenant),
      (err: unknown) => {
        const { status } = problemFor(err);
        socket.end(`HTTP/1.1 ${status === 401 ? '401 Unauthorized' : '500 Internal Server Error'}\r\nconnection: close\r\n\r\n`);
      },
    );
  };
  gateway.attach = (server) => {
    server.on('request', gateway);
    server.on('upgrade', gateway.upgrade);
  };
  gateway.drain = async () => {
    draining = true;
    await sockets.closeAll();
    if (running > 0) await new Promise<void>((resolve) => (idle = resolve));
  };
  let doc: Record<string, unknown> | undefined;
  let docKey = '';
  gateway.openapi = () => {
    const tools = pool.tools();
    const key = tools.map((t) => t.name).join('\0');
    if (doc === undefined || docKey !== key) {
      doc = openApiDocument(tools, info);
      docKey = key;
    }
    return doc;
  };
  return gateway;
}
