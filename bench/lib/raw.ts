/**
 * Host side of the raw framed-pipe baseline: spawns bench/raw_worker.py with the same two pipes as a
 * Snakepit worker (fd 3 host to worker, fd 4 worker to host), the same msgpackr framing, and nothing
 * else: no queue, no timers, no validation, no statistics. Calls are multiplexed by id.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { ADAPTER, BENCH_DIR, ROOT } from './env.js';

const HEADER = 4;

export class RawWorker {
  private readonly packr = new Packr({ useRecords: false, mapsAsObjects: true, encodeUndefinedAsNil: true });
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private rest: Buffer | null = null;
  private large: Buffer | null = null;
  private largeFilled = 0;
  private readonly out: Writable;
  readonly exited: Promise<void>;
  /** Set while a Snakepit worker's JSON `hello` is awaited (startBridge). */
  private hello: ((ok: boolean) => void) | undefined;

  private constructor(readonly child: ChildProcess) {
    const [, , , toWorker, fromWorker] = child.stdio;
    this.out = toWorker as Writable;
    (fromWorker as Readable).on('data', (chunk: Buffer) => this.push(chunk));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      const err = new Error(`raw worker exited (code ${code}, signal ${signal})`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /**
   * Spawn the raw worker (`threads` > 0: the thread hand-off variant). Resolves once it answered one
   * call, or with `probe` false as soon as the process is spawned (calls wait in the pipe meanwhile).
   */
  static async start(python: string, threads = 0, probe = true): Promise<RawWorker> {
    const extra = threads > 0 ? ['--threads', String(threads)] : [];
    const child = spawn(python, [path.join(BENCH_DIR, 'raw_worker.py'), ...extra], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'],
    });
    const worker = new RawWorker(child);
    if (probe) await worker.call('add', { a: 0, b: 0 });
    else await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    return worker;
  }

  /**
   * Diagnostic: this raw host driving a real Snakepit worker (`python -m snakepit_bridge` with the
   * bench adapter) instead of raw_worker.py. The call frames are the same; the worker's JSON `hello`
   * is awaited first. Against `raw` this isolates the worker side of Snakepit's per-call cost.
   */
  static async startBridge(python: string): Promise<RawWorker> {
    const pythonPath = path.join(ROOT, 'python');
    const child = spawn(python, ['-m', 'snakepit_bridge', '--adapter', ADAPTER], {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONPATH: process.env.PYTHONPATH ? `${pythonPath}${path.delimiter}${process.env.PYTHONPATH}` : pythonPath },
      cwd: BENCH_DIR,
    });
    const worker = new RawWorker(child);
    const ok = await new Promise<boolean>((resolve) => (worker.hello = resolve));
    if (!ok) throw new Error('the Snakepit worker did not say hello');
    await worker.call('add', { a: 0, b: 0 });
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  call(name: string, args: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    const frame = this.packr.pack([1, id, name, args, null, null, 0], RESERVE_START_SPACE | HEADER);
    frame.writeUInt32BE(frame.length - HEADER, 0);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.out.write(frame);
    });
  }

  private onFrame(payload: Buffer): void {
    if (this.hello !== undefined) {
      const hello = JSON.parse(payload.toString('utf8')) as [number, { codec?: string }];
      const done = this.hello;
      this.hello = undefined;
      done(hello[0] === 20 && hello[1].codec === 'msgpack');
      return;
    }
    const msg = this.packr.unpack(payload) as [number, number, unknown];
    const p = this.pending.get(msg[1]);
    if (p === undefined) return;
    this.pending.delete(msg[1]);
    p.resolve(msg[2]);
  }

  private push(chunk: Buffer): void {
    let data = chunk;
    let off = 0;
    if (this.large !== null) {
      const target = this.large;
      const n = Math.min(target.length - this.largeFilled, data.length);
      data.copy(target, this.largeFilled, 0, n);
      this.largeFilled += n;
      if (this.largeFilled < target.length) return;
      this.large = null;
      this.largeFilled = 0;
      off = n;
      this.onFrame(target);
    }
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, data.subarray(off)]);
      off = 0;
      this.rest = null;
    }
    while (data.length - off >= HEADER) {
      const n = data.readUInt32BE(off);
      const end = off + HEADER + n;
      if (end <= data.length) {
        this.onFrame(data.subarray(off + HEADER, end));
        off = end;
        continue;
      }
      if (n > 65_536) {
        this.large = Buffer.allocUnsafe(n);
        data.copy(this.large, 0, off + HEADER);
        this.largeFilled = data.length - off - HEADER;
        return;
      }
      break;
    }
    if (off < data.length) this.rest = data.subarray(off);
  }

  async close(): Promise<void> {
    this.out.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
    await this.exited;
    clearTimeout(timer);
  }
}
