/**
 * WebSocket connections of the gateway (`GET /v1/ws`, with the optional `ws` package): JSON text
 * messages, several calls in flight at once, streams, and a session per connection for a
 * conversation that keeps Python state.
 *
 * Client to server: `{id, op: 'call' | 'stream', tool, args?, timeout?, session?: true}`,
 * `{id, op: 'cancel'}`, `{op: 'session.open'}`, `{op: 'session.close'}`.
 * Server to client: `{id, type: 'result', result}`, `{id, type: 'chunk', chunk}`, `{id, type: 'end'}`,
 * `{id, type: 'error', error: <problem>}`, `{type: 'session', id}`.
 * Closing the connection cancels its calls and closes its session.
 */

import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ExecuteOptions } from '../../call-options.js';
import { InvalidArgumentsError } from '../../errors.js';
import type { Pool } from '../../pool/pool.js';
import type { Session } from '../../pool/session.js';
import { fromJson, toJson } from './json.js';
import { clientTimeout } from './options.js';
import { httpProblem, problemOf, type Problem } from './problem.js';

type WsModule = { WebSocketServer: typeof WebSocketServer };

let wsModule: WsModule | null | undefined;
function loadWs(): WsModule | null {
  if (wsModule === undefined) {
    try {
      wsModule = createRequire(import.meta.url)('ws') as WsModule;
    } catch {
      wsModule = null;
    }
  }
  return wsModule;
}

interface Message {
  id?: unknown;
  op?: unknown;
  tool?: unknown;
  args?: unknown;
  timeout?: unknown;
  session?: unknown;
}

class Connection {
  private readonly calls = new Map<unknown, AbortController>();
  private session: Session | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly ws: WebSocket,
    private readonly tenant: string | undefined,
    private readonly expose: boolean,
    private readonly maxTimeout: number,
  ) {
    ws.on('message', (data, isBinary) => this.onMessage(isBinary ? null : data.toString()));
    ws.on('close', () => void this.close());
  }

  private send(message: Record<string, unknown>): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(toJson(message));
  }

  private error(id: unknown, problem: Problem): void {
    this.send({ id, type: 'error', error: problem });
  }

  private onMessage(text: string | null): void {
    let msg: Message;
    try {
      if (text === null) throw new Error('binary');
      msg = fromJson(text) as Message;
      if (msg === null || typeof msg !== 'object') throw new Error('not an object');
    } catch (err) {
      this.error(null, err instanceof InvalidArgumentsError ? problemOf(err, false) : httpProblem('BAD_REQUEST', 'messages must be JSON objects in text frames'));
      return;
    }
    const { id, op } = msg;
    switch (op) {
      case 'session.open':
        this.session ??= this.pool.session();
        this.send({ id, type: 'session', session: this.session.id });
        return;
      case 'session.close':
        void this.session?.close();
        this.session = undefined;
        this.send({ id, type: 'end' });
        return;
      case 'cancel':
        this.calls.get(id)?.abort(new Error('cancelled by the client'));
        return;
      case 'call':
      case 'stream':
        break;
      default:
        this.error(id, httpProblem('BAD_REQUEST', `unknown op ${JSON.stringify(op)} (call, stream, cancel, session.open, session.close)`));
        return;
    }
    if ((typeof id !== 'string' && typeof id !== 'number') || this.calls.has(id)) {
      this.error(id ?? null, httpProblem('BAD_REQUEST', 'each call needs an id (string or number) not in use'));
      return;
    }
    if (typeof msg.tool !== 'string') {
      this.error(id, httpProblem('BAD_REQUEST', 'tool must be a string'));
      return;
    }
    const args = (msg.args ?? {}) as Record<string, unknown>;
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      this.error(id, httpProblem('INVALID_ARGUMENTS', 'args must be an object of keyword arguments'));
      return;
    }
    if (msg.session === true && this.session === undefined) {
      this.error(id, httpProblem('BAD_REQUEST', 'no session is open on this connection: send {op: "session.open"} first'));
      return;
    }
    const timeout = typeof msg.timeout === 'number' ? clientTimeout(msg.timeout, this.maxTimeout) : undefined;
    if (msg.timeout !== undefined && timeout === undefined) {
      this.error(id, httpProblem('BAD_REQUEST', 'timeout must be a positive integer of milliseconds'));
      return;
    }
    const controller = new AbortController();
    this.calls.set(id, controller);
    const opts: ExecuteOptions = { signal: controller.signal };
    if (timeout !== undefined) opts.timeout = timeout; // at most the gateway's maxTimeout, as x-timeout-ms
    if (this.tenant !== undefined) opts.tenant = this.tenant; // session calls too: the tenant's rate quota applies
    const target = msg.session === true ? this.session! : this.pool;
    const done = (): void => void this.calls.delete(id);
    if (op === 'call') {
      target.execute(msg.tool, args, opts).then(
        (result) => this.send({ id, type: 'result', result }),
        (err: unknown) => this.error(id, problemOf(err, this.expose)),
      ).finally(done);
      return;
    }
    void (async () => {
      try {
        for await (const chunk of target.stream(msg.tool as string, args, opts)) this.send({ id, type: 'chunk', chunk });
        this.send({ id, type: 'end' });
      } catch (err) {
        this.error(id, problemOf(err, this.expose));
      } finally {
        done();
      }
    })();
  }

  async close(): Promise<void> {
    for (const c of this.calls.values()) c.abort(new Error('connection closed'));
    const session = this.session;
    this.session = undefined;
    await session?.close().catch(() => undefined);
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1001, 'going away');
  }
}

export class WebSocketSessions {
  private server: WebSocketServer | undefined;
  private readonly connections = new Set<Connection>();

  constructor(
    private readonly pool: Pool,
    private readonly expose: boolean,
    private readonly maxTimeout: number,
  ) {}

  accept(req: IncomingMessage, socket: Duplex, head: Buffer, tenant: string | undefined): void {
    const ws = loadWs();
    if (ws === null) {
      socket.end('HTTP/1.1 501 Not Implemented\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nWebSocket needs the optional package ws: npm install ws\n');
      return;
    }
    this.server ??= new ws.WebSocketServer({ noServer: true, maxPayload: this.pool.options.maxPayload });
    this.server.handleUpgrade(req, socket, head, (client) => {
      const conn = new Connection(this.pool, client, tenant, this.expose, this.maxTimeout);
      this.connections.add(conn);
      client.on('close', () => this.connections.delete(conn));
    });
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.connections].map((c) => c.close()));
    this.server?.close();
  }
}
