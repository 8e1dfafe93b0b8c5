import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import WebSocket from 'ws';
import { createGateway, type Gateway, type Pool } from '../src/index.js';
import { decodeMsgpack } from '../src/protocol/msgpack-decode.js';
import { fixture, startPool, waitFor } from './helpers.js';

let pool: Pool;
let server: Server;
let gateway: Gateway;
let base: string;

before(async () => {
  pool = await startPool({ adapter: fixture('serving_tools.py'), size: 2, timeout: 5_000, maxPayload: 1024 * 1024, tenants: { gold: { rate: 1000 }, tiny: { rate: 1, burst: 1 } } });
  gateway = createGateway(pool, { auth: { 'token-a': 'gold', 'token-t': 'tiny' }, exposeTracebacks: true, pages: { '/': { contentType: 'text/html', body: '<p>hi</p>' } } });
  server = createServer();
  gateway.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await pool.destroy();
});

const auth = { authorization: 'Bearer token-a' };

async function post(tool: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/v1/tools/${tool}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body: JSON.stringify(body) });
}

describe('gateway: calls and errors', () => {
  it('POST /v1/tools/{name}: JSON in, JSON out; bytes as $bytes', async () => {
    const res = await post('typed', { n: 2, names: ['a', 'b'] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), { a: 2, b: 2 });
    const blob = await post('blob', { data: { $bytes: Buffer.from('abc').toString('base64') } });
    assert.deepEqual(await blob.json(), { $bytes: Buffer.from('cba').toString('base64') });
    const damaged = await post('blob', { data: { $bytes: 'YWJj!' } });
    assert.equal(damaged.status, 400);
    assert.deepEqual(await damaged.json(), {
      type: 'urn:snakepit:error:INVALID_ARGUMENTS',
      title: 'INVALID_ARGUMENTS',
      status: 400,
      detail: '{"$bytes": ...} holds a string of 5 characters that is not base64',
      code: 'INVALID_ARGUMENTS',
    });
  });

  it('MessagePack both ways with its content type', async () => {
    const { MsgpackEncoder } = await import('../src/protocol/msgpack-encode.js');
    const { frameBytes } = await import('../src/protocol/frames.js');
    const body = frameBytes(new MsgpackEncoder().encodeFrame({ n: 3, names: ['x'] })).subarray(4);
    const res = await fetch(`${base}/v1/tools/typed`, { method: 'POST', headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack', ...auth }, body });
    assert.equal(res.headers.get('content-type'), 'application/msgpack');
    assert.deepEqual(decodeMsgpack(Buffer.from(await res.arrayBuffer())), { x: 3 });
  });

  it('errors are RFC 9457 problem details with the stable code and the right status', async () => {
    const cases: [Promise<Response>, number, string][] = [
      [post('typed', { n: 1 }), 400, 'INVALID_ARGUMENTS'],
      [post('nope', {}), 404, 'TOOL_NOT_FOUND'],
      [post('fail', { message: 'kaput' }), 500, 'PYTHON_ERROR'],
      [post('sleep', { ms: 500 }, { 'x-timeout-ms': '50' }), 504, 'TIMEOUT'],
      [post('echo', { value: 'x'.repeat(2 * 1024 * 1024) }), 413, 'PAYLOAD_TOO_LARGE'],
      [fetch(`${base}/v1/tools/echo`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{bad' }), 400, 'BAD_REQUEST'],
      [fetch(`${base}/v1/tools/echo`, { method: 'POST', headers: { 'content-type': 'text/xml', ...auth }, body: 'x' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [fetch(`${base}/v1/tools/echo`, { method: 'GET', headers: auth }), 405, 'METHOD_NOT_ALLOWED'],
      [fetch(`${base}/v1/ws`, { headers: auth }), 426, 'UPGRADE_REQUIRED'],
      [fetch(`${base}/v1/tools/echo`, { method: 'POST', body: '{}' }), 401, 'UNAUTHORIZED'],
      [fetch(`${base}/v1/tools/echo`, { method: 'POST', headers: { authorization: 'Bearer wrong' }, body: '{}' }), 401, 'UNAUTHORIZED'],
      [fetch(`${base}/nowhere`), 404, 'NOT_FOUND'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.status, status, code);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', code);
      const problem = (await res.json()) as Record<string, unknown>;
      assert.equal(problem.code, code);
      assert.equal(problem.status, status);
      assert.equal(problem.type, `urn:snakepit:error:${code}`);
      if (code === 'PYTHON_ERROR') assert.match(String(problem.traceback), /RuntimeError: kaput/);
    }
  });

  it('a tenant past its quota gets 429 with Retry-After; x-api-key works too', async () => {
    const first = await post('echo', { value: 1 }, { authorization: '', 'x-api-key': 'token-t' });
    assert.equal(first.status, 200);
    const second = await post('echo', { value: 2 }, { authorization: '', 'x-api-key': 'token-t' });
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    const problem = (await second.json()) as Record<string, unknown>;
    assert.equal(problem.code, 'QUOTA_EXCEEDED');
    assert.equal(problem.tenant, 'tiny');
  });

  it('health, readiness, the catalogue and extra pages', async () => {
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const tools = (await (await fetch(`${base}/v1/tools`)).json()) as { name: string }[];
    assert.ok(tools.some((t) => t.name === 'tokens'));
    assert.equal(await (await fetch(`${base}/`)).text(), '<p>hi</p>');
  });
});

describe('gateway: OpenAPI', () => {
  it('serves an OpenAPI 3.1 document that a validator accepts, with types from the annotations', async () => {
    const doc = (await (await fetch(`${base}/v1/openapi.json`)).json()) as Record<string, any>;
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    assert.equal(doc.openapi, '3.1.0');
    const typed = doc.paths['/v1/tools/typed'].post;
    assert.deepEqual(typed.requestBody.content['application/json'].schema, {
      type: 'object',
      properties: {
        n: { type: 'integer' },
        names: { type: 'array', items: { type: 'string' } },
        ratio: { anyOf: [{ type: 'number' }, { type: 'null' }], default: null },
        mode: { type: 'string', default: 'fast' },
      },
      required: ['n', 'names'],
      additionalProperties: false,
    });
    assert.deepEqual(typed.responses['200'].content['application/json'].schema, { type: 'object', additionalProperties: { type: 'integer' } });
    assert.ok(doc.paths['/v1/tools/tokens'].post.responses['200'].content['text/event-stream']);
  });
});

describe('gateway: streams', () => {
  it('server-sent events, one event per chunk, then end', async () => {
    const res = await post('tokens', { text: 'one two three' }, { accept: 'text/event-stream' });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const text = await res.text();
    const events = text.trim().split('\n\n').map((e) => e.split('\n'));
    assert.deepEqual(events, [
      ['event: chunk', 'data: "one"'],
      ['event: chunk', 'data: "two"'],
      ['event: chunk', 'data: "three"'],
      ['event: end', 'data: {}'],
    ]);
    // Without asking for events: the JSON array of the chunks.
    assert.deepEqual(await (await post('tokens', { text: 'a b' })).json(), ['a', 'b']);
    const get = await fetch(`${base}/v1/tools/tokens/stream?access_token=token-a&args=${encodeURIComponent(JSON.stringify({ text: 'x y' }))}`);
    assert.match(await get.text(), /data: "x"[\s\S]*data: "y"[\s\S]*event: end/);
  });

  it('a client that disconnects mid-stream cancels the generator: its finally runs', async () => {
    const marker = path.join(mkdtempSync(path.join(tmpdir(), 'sse-')), 'closed');
    const controller = new AbortController();
    const res = await post('tokens', { text: 'a '.repeat(500), delay: 0.02, marker }, { accept: 'text/event-stream' });
    const reader = res.body!.getReader();
    await reader.read();
    void controller;
    await reader.cancel();
    await waitFor(() => existsSync(marker), 5000, 'the generator finally');
    assert.equal(readFileSync(marker, 'utf8'), 'closed');
  });
});

describe('gateway: WebSocket', () => {
  function open(headers: Record<string, string> = auth): Promise<{ ws: WebSocket; next: () => Promise<Record<string, any>> }> {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`, { headers });
    const queue: Record<string, any>[] = [];
    const waiters: ((m: Record<string, any>) => void)[] = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Record<string, any>;
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    });
    const next = (): Promise<Record<string, any>> => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, next }));
      ws.once('error', reject);
    });
  }

  it('calls, streams and errors over one connection', async () => {
    const { ws, next } = await open();
    ws.send(JSON.stringify({ id: 1, op: 'call', tool: 'typed', args: { n: 5, names: ['k'] } }));
    assert.deepEqual(await next(), { id: 1, type: 'result', result: { k: 5 } });
    ws.send(JSON.stringify({ id: 2, op: 'stream', tool: 'tokens', args: { text: 'p q' } }));
    assert.deepEqual([await next(), await next(), await next()], [
      { id: 2, type: 'chunk', chunk: 'p' },
      { id: 2, type: 'chunk', chunk: 'q' },
      { id: 2, type: 'end' },
    ]);
    ws.send(JSON.stringify({ id: 3, op: 'call', tool: 'nope' }));
    const err = await next();
    assert.equal(err.type, 'error');
    assert.equal(err.error.code, 'TOOL_NOT_FOUND');
    ws.send('not json');
    assert.equal((await next()).error.code, 'BAD_REQUEST');
    ws.close();
  });

  it("session calls carry the connection's tenant: its rate quota applies to them", async () => {
    const { ws, next } = await open({ authorization: 'Bearer token-t' }); // tenant tiny: rate 1, burst 1
    ws.send(JSON.stringify({ id: 's', op: 'session.open' }));
    assert.equal((await next()).type, 'session');
    const codes: string[] = [];
    for (let id = 1; id <= 3; id++) {
      ws.send(JSON.stringify({ id, op: 'call', tool: 'echo', args: { value: id }, session: true }));
      const answer = await next();
      codes.push(answer.type === 'error' ? answer.error.code : 'ok');
    }
    assert.ok(codes.includes('QUOTA_EXCEEDED'), `three calls at once within a burst of 1: ${codes.join(', ')}`);
    ws.close();
  });

  it('a session per connection keeps Python state between calls', async () => {
    const { ws, next } = await open();
    ws.send(JSON.stringify({ id: 's', op: 'session.open' }));
    const opened = await next();
    assert.equal(opened.type, 'session');
    ws.send(JSON.stringify({ id: 1, op: 'call', tool: 'remember', args: { value: 'first' }, session: true }));
    assert.equal((await next()).result, null);
    ws.send(JSON.stringify({ id: 2, op: 'call', tool: 'remember', args: { value: 'second' }, session: true }));
    assert.equal((await next()).result, 'first');
    ws.close();
  });

  it('refuses an upgrade without credentials', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/ws`);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 401);
  });
});

describe('gateway: auth functions', () => {
  it('undefined or null refuses with 401; a value that is not a tenant name is a 500 and a process warning', async () => {
    const answers = new Map<string, unknown>([['none', undefined], ['null', null], ['number', 5], ['ok', 'gold']]);
    const gw = createGateway(pool, { auth: (credential) => answers.get(credential ?? '') as string | undefined });
    const srv = createServer(gw);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const warnings: (Error & { code?: string })[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const call = (token: string): Promise<Response> =>
        fetch(`${url}/v1/tools/echo`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"value": 1}' });
      assert.equal((await call('none')).status, 401);
      assert.equal((await call('null')).status, 401);
      const bad = await call('number');
      assert.equal(bad.status, 500);
      assert.equal(((await bad.json()) as { code: string }).code, 'INTERNAL');
      assert.equal((await call('ok')).status, 200);
      await waitFor(() => warnings.some((w) => w.code === 'SNAKEPIT_GATEWAY_ERROR' && /auth function returned 5, not a tenant name/.test(w.message)), 2000, 'the warning');
    } finally {
      process.off('warning', onWarning);
      srv.close();
    }
  });
});

describe('gateway: WebSocket deadlines', () => {
  it("a message's timeout is capped at maxTimeout, as x-timeout-ms is; a bad one is refused", async () => {
    const gw = createGateway(pool, { maxTimeout: 100 });
    const srv = createServer();
    gw.attach(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const ws = new WebSocket(`ws://127.0.0.1:${(srv.address() as AddressInfo).port}/v1/ws`);
    const answers: Record<string, any>[] = [];
    ws.on('message', (d) => answers.push(JSON.parse(d.toString()) as Record<string, any>));
    await new Promise((r) => ws.once('open', r));
    try {
      ws.send(JSON.stringify({ id: 1, op: 'call', tool: 'sleep', args: { ms: 1000 }, timeout: 60_000 }));
      ws.send(JSON.stringify({ id: 2, op: 'call', tool: 'echo', args: { value: 1 }, timeout: -1 }));
      ws.send(JSON.stringify({ id: 3, op: 'call', tool: 'echo', args: { value: 1 }, timeout: '50' }));
      await waitFor(() => answers.length === 3, 5000, 'three answers');
      const byId = new Map(answers.map((a) => [a.id, a]));
      assert.equal(byId.get(1)!.error?.code, 'TIMEOUT', JSON.stringify(byId.get(1)));
      assert.equal(byId.get(2)!.error?.code, 'BAD_REQUEST');
      assert.match(byId.get(3)!.error?.detail, /timeout must be a positive integer of milliseconds/);
    } finally {
      ws.close();
      srv.close();
    }
  });
});

describe('gateway: drain', () => {
  it('finishes running calls, then refuses new ones and fails readiness', async () => {
    const p2 = await startPool({ adapter: fixture('serving_tools.py'), size: 1 });
    const gw = createGateway(p2);
    const srv = createServer(gw);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const slow = fetch(`${url}/v1/tools/sleep`, { method: 'POST', body: JSON.stringify({ ms: 200 }) });
      await new Promise((r) => setTimeout(r, 50));
      const drained = gw.drain();
      const refused = await fetch(`${url}/v1/tools/echo`, { method: 'POST', body: '{}' });
      assert.equal(refused.status, 503);
      assert.equal(((await refused.json()) as { code: string }).code, 'DRAINING');
      assert.equal((await fetch(`${url}/readyz`)).status, 503);
      assert.equal((await slow).status, 200);
      await drained;
    } finally {
      srv.close();
      await p2.destroy();
    }
  });
});

describe('snakepit serve', () => {
  it('serves an adapter, drains on SIGTERM (the running call finishes) and exits 0', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('src', 'cli', 'main.ts'), 'serve', fixture('serving_tools.py'), '--port', '0', '--size', '1', '--token', 'secret=acme'], {
      cwd: path.resolve(fixture('.'), '..', '..'),
      env: { ...process.env, SNAKEPIT_PYTHON: process.env.SNAKEPIT_PYTHON ?? path.resolve(fixture('.'), '..', '..', '.venv', 'bin', 'python') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor(() => /listening on (http:\/\/\S+)/.test(out), 20_000, 'the server to listen');
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!;
    assert.equal((await fetch(`${url}/v1/tools/echo`, { method: 'POST', body: '{"value": 1}' })).status, 401);
    const slow = fetch(`${url}/v1/tools/sleep`, { method: 'POST', headers: { authorization: 'Bearer secret' }, body: JSON.stringify({ ms: 300 }) });
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(await res.json(), 300);
    assert.equal(await exited, 0);
    assert.match(out, /draining[\s\S]*stopped/);
  });

  it('exits 2 on bad usage and prints help', async () => {
    const { execFile } = await import('node:child_process');
    const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) =>
        execFile(process.execPath, ['--import', 'tsx', path.join('src', 'cli', 'main.ts'), 'serve', ...args], { cwd: path.resolve(fixture('.'), '..', '..') }, (err, stdout, stderr) =>
          resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
        ),
      );
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /usage: snakepit serve/);
    const bad = await run(['a.py', '--port', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port must be an integer/);
    const none = await run([]);
    assert.equal(none.code, 2);
  });
});
