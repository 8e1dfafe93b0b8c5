/**
 * A bare framed pipe to a Python peer script (fd 3 host to peer, fd 4 peer to host; each frame a
 * 4-byte big-endian length, then the payload): one request at a time, frames assembled as the pool's
 * frame decoder does. The baseline of the data and tables benchmarks.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { PYTHON } from './env.js';

export class FramedPeer {
  private readonly child: ChildProcess;
  private readonly out: Writable;
  private pending: ((frame: Buffer) => void) | undefined;
  private head = Buffer.alloc(0);
  private frame: Buffer | undefined;
  private filled = 0;

  constructor(script: string, args: readonly string[] = []) {
    this.child = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'] });
    this.out = this.child.stdio[3] as Writable;
    (this.child.stdio[4] as Readable).on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.frame === undefined) {
        const need = 4 - this.head.length;
        this.head = Buffer.concat([this.head, chunk.subarray(off, off + need)]);
        off += Math.min(need, chunk.length - off);
        if (this.head.length < 4) return;
        this.frame = Buffer.allocUnsafe(this.head.readUInt32BE(0));
        this.filled = 0;
        this.head = Buffer.alloc(0);
      }
      const n = Math.min(this.frame.length - this.filled, chunk.length - off);
      chunk.copy(this.frame, this.filled, off, off + n);
      this.filled += n;
      off += n;
      if (this.filled === this.frame.length) {
        const done = this.frame;
        this.frame = undefined;
        const resolve = this.pending;
        this.pending = undefined;
        resolve?.(done);
      }
    }
  }

  /** Send one frame (header and payload written back to back, without copying the payload). */
  request(payload: Uint8Array | string): Promise<Buffer> {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const reply = new Promise<Buffer>((resolve) => (this.pending = resolve));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(bytes.byteLength);
    this.out.cork();
    this.out.write(header);
    this.out.write(bytes);
    this.out.uncork();
    return reply;
  }

  close(): void {
    this.child.kill();
  }
}
