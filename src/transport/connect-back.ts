/**
 * The connect-back listener: one Unix domain socket per pool, in a private folder (mode 0700), that
 * workers connect to instead of inheriting pipes. Each expected worker has a one-time token (64 hex
 * characters from 32 random bytes) that it writes as the first frame (4-byte big-endian length, then
 * the ASCII token). The first frame is read with a bound (128 bytes, a few seconds), compared in
 * constant time with the tokens still expected, and the socket is handed to that worker. An unknown,
 * reused or late token closes the socket. A token is valid once, and only until its deadline.
 *
 * Used by the socket transport (socket.ts) and by anything else whose workers cannot inherit pipes
 * from this host (a fork server's children).
 */

import { nodeCrypto } from '../boot/crypto.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENV } from '../protocol/messages.js';

/** The longest first frame accepted (the token is 64 bytes). */
const MAX_TOKEN_FRAME = 128;
/** How long an accepted connection has to send its token. */
const TOKEN_READ_MS = 5_000;
/** sockaddr_un holds 108 bytes with the terminating NUL; keep clear of it. */
const MAX_SOCKET_PATH = 100;

interface Expected {
  readonly token: Buffer;
  readonly resolve: (socket: Socket) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** A worker expected to connect: the values to give it, and its socket once it has connected. */
export interface Expectation {
  /** SNAKEPIT_CONNECT and SNAKEPIT_TOKEN for the worker's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The token the worker must send first. */
  readonly token: string;
  /** Resolves with the worker's socket; rejects when the deadline passes or the listener closes. */
  readonly socket: Promise<Socket>;
  /** Stop waiting (the worker exited or was killed): the token is void. */
  cancel(): void;
}

export class ConnectBackListener {
  private readonly expected = new Map<string, Expected>();
  private server: Server | undefined;
  private dir: string | undefined;
  private socketPath = '';

  /** `baseDir`: where the private folder is made (the pool's stateDir), else the system's tmpdir. */
  constructor(private readonly baseDir: string | undefined) {}

  get path(): string {
    return this.socketPath;
  }

  async listen(): Promise<void> {
    let base = this.baseDir ?? tmpdir();
    if (join(base, 'snakepit-XXXXXX', 's').length > MAX_SOCKET_PATH) base = tmpdir();
    else if (this.baseDir !== undefined) mkdirSync(base, { recursive: true, mode: 0o700 });
    this.dir = mkdtempSync(join(base, 'snakepit-'));
    this.socketPath = join(this.dir, 's');
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {});
    server.unref();
  }

  /** Expect one worker to connect within `timeoutMs`. */
  expect(timeoutMs: number): Expectation {
    const token = nodeCrypto().randomBytes(32).toString('hex');
    let cancel = (): void => {};
    const socket = new Promise<Socket>((resolve, reject) => {
      if (this.server === undefined) {
        reject(new Error('the connect-back listener is not open'));
        return;
      }
      const timer = setTimeout(() => {
        this.expected.delete(token);
        reject(new Error(`no worker connected with its token within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.expected.set(token, { token: Buffer.from(token, 'ascii'), resolve, reject, timer });
      cancel = () => {
        if (this.expected.get(token)?.timer !== timer) return;
        clearTimeout(timer);
        this.expected.delete(token);
        reject(new Error('the worker is no longer expected'));
      };
    });
    socket.catch(() => {});
    return { env: { [ENV.CONNECT]: this.socketPath, [ENV.TOKEN]: token }, token, socket, cancel: () => cancel() };
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), TOKEN_READ_MS);
    timer.unref();
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const length = buffered.readUInt32BE(0);
      if (length === 0 || length > MAX_TOKEN_FRAME) return refuse();
      if (buffered.length < 4 + length) {
        if (buffered.length > 4 + MAX_TOKEN_FRAME) refuse();
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', refuse);
      socket.pause();
      const entry = this.match(buffered.subarray(4, 4 + length));
      if (entry === undefined) return refuse();
      const rest = buffered.subarray(4 + length);
      if (rest.length > 0) socket.unshift(rest);
      entry.resolve(socket);
    };
    const refuse = (): void => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.once('end', refuse);
  }

  /** The expected worker whose token this is (compared in constant time), taken off the list. */
  private match(token: Buffer): Expected | undefined {
    let found: Expected | undefined;
    for (const entry of this.expected.values()) {
      if (entry.token.length === token.length && nodeCrypto().timingSafeEqual(entry.token, token)) found = entry;
    }
    if (found === undefined) return undefined;
    clearTimeout(found.timer);
    this.expected.delete(found.token.toString('ascii'));
    return found;
  }

  /** Stop listening and remove the socket's folder; workers still expected are refused. */
  close(): void {
    for (const entry of this.expected.values()) {
      clearTimeout(entry.timer);
      entry.reject(new Error('the connect-back listener was closed'));
    }
    this.expected.clear();
    this.server?.close();
    this.server = undefined;
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
