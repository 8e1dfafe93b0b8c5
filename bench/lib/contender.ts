/**
 * One contender of the comparison: a way of running the functions of bench/work.py from Node.
 * Each is driven in its own Node process (bench/lib/agent.ts), so that memory and startup figures
 * belong to it alone.
 */

export interface Capabilities {
  /** Largest number of worker processes it can run from one Node process. */
  maxWorkers: number;
  /** Why it cannot run more workers than that, when it cannot. */
  workersNote?: string;
  /** How bytes and arrays travel, in a few words. */
  binary: string;
  /** Its "workers" live inside the Node process (no worker RSS of their own). */
  inProcess: boolean;
}

export interface Contender {
  readonly name: string;
  readonly caps: Capabilities;
  /**
   * Load the contender's package into this fresh Node process, before `start` and the memory figures
   * (bench/lib/load.ts times the load apart). Absent where loading the package starts Python
   * (pythonia, node-calls-python): their load is part of their start.
   */
  load?(): Promise<void>;
  /** Start `workers` workers; resolves when they can take calls (before the first call). */
  start(workers: number): Promise<void>;
  add(a: number, b: number): Promise<number>;
  /** Send bytes; the worker answers their length. */
  bytesTo(data: Buffer): Promise<number>;
  /** The worker sends `n` bytes. */
  bytesFrom(n: number): Promise<Uint8Array>;
  /** Send a float64 array; the worker sums it with NumPy. */
  arrayTo(data: Float64Array): Promise<number>;
  /** The worker sends a float64 array of `n` elements. */
  arrayFrom(n: number): Promise<Float64Array>;
  /** Pids of the worker processes (empty for in-process contenders). */
  workerPids(): number[];
  stop(): Promise<void>;
}

/** A Float64Array over the bytes, copying only when they are not 8-byte aligned. */
export function asFloat64(bytes: Uint8Array): Float64Array {
  if (bytes.byteOffset % 8 === 0) return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  return new Float64Array(new Uint8Array(bytes).buffer);
}

export function f64Bytes(data: Float64Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Spreads calls over several single-process workers, each call to the one with the fewest calls
 * outstanding: the dispatch used for the raw baseline and python-shell with N workers.
 */
export class LeastOutstanding<W> {
  private readonly outstanding: number[];

  constructor(readonly workers: W[]) {
    this.outstanding = workers.map(() => 0);
  }

  async run<T>(fn: (w: W) => Promise<T>): Promise<T> {
    let best = 0;
    for (let i = 1; i < this.outstanding.length; i++) if (this.outstanding[i]! < this.outstanding[best]!) best = i;
    this.outstanding[best]!++;
    try {
      return await fn(this.workers[best]!);
    } finally {
      this.outstanding[best]!--;
    }
  }
}
