/**
 * The connect-back socket of a fork-server pool: one Unix domain socket in a private directory
 * (mode 0700), removed at close. A forked worker connects to it and presents a one-time token
 * (4-byte big-endian length, then 64 hex characters) as its first frame; the socket is handed to the
 * worker that waits for that token. An unknown, reused or late token, a first frame over 128 bytes or
 * one that does not arrive within a few seconds closes the socket.
 */

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';

const MAX_TOKEN_FRAME = 128;
const FIRST_FRAME_MS = 5_000;

interface Waiter {
  token: Buffer;
  resolve: (socket: Socket) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class ConnectListener {
  readonly dir: string;
  readonly path: string;
  private readonly server: Server;
  private readonly waiting = new Map<string, Waiter>();
  private closed = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.path = path.join(dir, 'w.sock');
    this.server = createServer((socket) => this.onConnection(socket));
    this.server.on('error', () => {});
  }

  /** Listen in a new private directory under `parent`. */
  static async open(parent: string): Promise<ConnectListener> {
    const dir = mkdtempSync(path.join(parent, 'snakepit-fs-'));
    const listener = new ConnectListener(dir);
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(listener.path, () => {
        listener.server.off('error', reject);
        resolve();
      });
    });
    listener.server.unref();
    return listener;
  }

  /** A new one-time token (64 hex characters). */
  static token(): string {
    return randomBytes(32).toString('hex');
  }

  /** Resolves with the socket of the worker that presents `token` within `timeoutMs`. */
  expect(token: string, timeoutMs: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new Error(`no connection with the worker's token within ${timeoutMs} ms`));
      }, timeoutMs); // keeps the host's event loop alive while a worker starts
      this.waiting.set(token, { token: Buffer.from(token, 'latin1'), resolve, reject, timer });
    });
  }

  /** Stop waiting for `token` (the worker died before it connected). */
  forget(token: string, error: Error): void {
    const waiter = this.waiting.get(token);
    if (waiter === undefined) return;
    this.waiting.delete(token);
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }

  private onConnection(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), FIRST_FRAME_MS);
    timer.unref();
    socket.on('error', () => {});
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const n = buf.readUInt32BE(0);
      if (n > MAX_TOKEN_FRAME - 4) {
        clearTimeout(timer);
        socket.destroy();
        return;
      }
      if (buf.length < 4 + n) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      const waiter = this.match(buf.subarray(4, 4 + n));
      if (waiter === undefined) {
        socket.destroy();
        return;
      }
      const rest = buf.subarray(4 + n);
      if (rest.length > 0) socket.unshift(rest);
      waiter.resolve(socket);
    };
    socket.on('data', onData);
  }

  /** The waiter whose token equals `presented` (compared in constant time); it is used up. */
  private match(presented: Buffer): Waiter | undefined {
    let found: Waiter | undefined;
    for (const waiter of this.waiting.values()) {
      if (waiter.token.length === presented.length && timingSafeEqual(waiter.token, presented)) found = waiter;
    }
    if (found === undefined) return undefined;
    this.waiting.delete(found.token.toString('latin1'));
    clearTimeout(found.timer);
    return found;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const token of [...this.waiting.keys()]) this.forget(token, new Error('the pool closed'));
    this.server.close();
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* already gone */
    }
  }
}
