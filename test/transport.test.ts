/** The connect-back listener of the socket transport, and the `transport` option. */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConnectBackListener } from '../src/transport/connect-back.js';
import { PYTHON, fixture, rejection, startPool } from './helpers.js';
import { Pool } from '../src/index.js';

function tokenFrame(token: string | Buffer): Buffer {
  const body = typeof token === 'string' ? Buffer.from(token, 'ascii') : token;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** Connect, write `bytes`, and resolve with whether the listener closed the connection. */
function tryConnect(socketPath: string, bytes: Buffer, waitMs = 300): Promise<{ closed: boolean; socket: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath, () => socket.write(bytes));
    socket.on('error', () => {});
    const timer = setTimeout(() => resolve({ closed: false, socket }), waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, socket });
    });
  });
}

describe('connect-back listener', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'snakepit-cb-test-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('listens in a private folder (0700) that close() removes', async () => {
    const listener = new ConnectBackListener(base);
    await listener.listen();
    const dir = path.dirname(listener.path);
    assert.equal(path.dirname(dir), base);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    listener.close();
    assert.deepEqual(readdirSync(base), []);
  });

  it('hands the socket to the worker whose token it is, keeping the bytes after the token', async () => {
    const listener = new ConnectBackListener(base);
    await listener.listen();
    try {
      const other = listener.expect(5_000);
      const mine = listener.expect(5_000);
      assert.match(mine.token, /^[0-9a-f]{64}$/);
      assert.equal(mine.env.SNAKEPIT_CONNECT, listener.path);
      assert.equal(mine.env.SNAKEPIT_TOKEN, mine.token);
      const client = net.connect(listener.path, () => client.write(Buffer.concat([tokenFrame(mine.token), Buffer.from('hello')])));
      const socket = await mine.socket;
      const data = await new Promise<Buffer>((resolve) => socket.once('data', resolve).resume());
      assert.equal(data.toString(), 'hello');
      socket.destroy();
      client.destroy();
      other.cancel();
      await assert.rejects(other.socket);
    } finally {
      listener.close();
    }
  });

  it('closes connections with an unknown, reused, oversized or late token', async () => {
    const listener = new ConnectBackListener(base);
    await listener.listen();
    try {
      const expected = listener.expect(5_000);
      const unknown = await tryConnect(listener.path, tokenFrame('0'.repeat(64)));
      assert.equal(unknown.closed, true, 'unknown token');
      const short = await tryConnect(listener.path, tokenFrame(expected.token.slice(0, 63)));
      assert.equal(short.closed, true, 'token of another length');
      const oversized = await tryConnect(listener.path, tokenFrame(Buffer.alloc(129, 0x61)));
      assert.equal(oversized.closed, true, 'first frame over 128 bytes');

      const good = await tryConnect(listener.path, tokenFrame(expected.token));
      assert.equal(good.closed, false, 'the right token is accepted');
      (await expected.socket).destroy();
      good.socket.destroy();
      const reused = await tryConnect(listener.path, tokenFrame(expected.token));
      assert.equal(reused.closed, true, 'a token is valid once');

      const late = listener.expect(50);
      const keepAlive = setTimeout(() => {}, 1_000); // the listener's own timers do not hold the loop
      await assert.rejects(late.socket, /within 50 ms/);
      clearTimeout(keepAlive);
      const tooLate = await tryConnect(listener.path, tokenFrame(late.token));
      assert.equal(tooLate.closed, true, 'a token expires with its deadline');
    } finally {
      listener.close();
    }
  });
});

describe('transport option', () => {
  it('is validated', async () => {
    const err = await rejection(Pool.start({ adapter: fixture('basic.py'), python: PYTHON, transport: 'tcp' as 'pipe' }));
    assert.equal(err.code, 'INVALID_OPTIONS');
    assert.match(err.message, /options\.transport must be "pipe" or "socket"/);
  });

  it('socket: workers reach the pool through a socket in the stateDir, removed at close', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'snakepit-state-'));
    try {
      const pool = await startPool({ transport: 'socket', size: 2, stateDir });
      const dirs = readdirSync(stateDir).filter((name) => name.startsWith('snakepit-'));
      assert.equal(dirs.length, 1);
      assert.equal(await pool.execute('add', { a: 2, b: 3 }), 5);
      const pid = pool.stats().workerList[0]!.pid!;
      // The worker was told where to connect, and the socket is the one in the stateDir.
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes(`SNAKEPIT_CONNECT=${path.join(stateDir, dirs[0]!, 's')}`));
      assert.ok(environ.some((entry) => /^SNAKEPIT_TOKEN=[0-9a-f]{64}$/.test(entry)));
      await pool.close();
      assert.deepEqual(readdirSync(stateDir).filter((name) => name.startsWith('snakepit-')), []);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('socket: a sandboxed worker reaches the socket even when its folder is under a masked one (/tmp)', async () => {
    const pool = await startPool({ transport: 'socket', stateDir: false, sandbox: {} });
    try {
      assert.equal(await pool.execute('add', { a: 4, b: 5 }), 9);
    } finally {
      await pool.close();
    }
  });
});
