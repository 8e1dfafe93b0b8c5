/**
 * python-shell: one PythonShell per worker in JSON mode running bench/peers/pyshell_worker.py; each
 * message carries an id, so several calls can be in flight on one process. JSON carries no bytes, so
 * bytes and arrays travel as base64 strings (encoding and decoding are part of the measured time).
 */

import { createRequire } from 'node:module';
import path from 'node:path';
import { asFloat64, f64Bytes, LeastOutstanding, type Contender } from '../contender.js';
import { BENCH_DIR, PYTHON } from '../env.js';

/** The part of python-shell's PythonShell used here (loaded at run time: bench/node_modules is optional). */
interface PythonShell {
  childProcess: { pid?: number; once(event: 'spawn', fn: () => void): void };
  on(event: 'message', fn: (msg: { id: number; value: unknown }) => void): void;
  send(message: unknown): void;
  end(fn: () => void): void;
}
type PythonShellClass = new (script: string, options: Record<string, unknown>) => PythonShell;

class Shell {
  private readonly pending = new Map<number, (value: unknown) => void>();
  private nextId = 1;

  constructor(readonly shell: PythonShell) {
    shell.on('message', (msg) => {
      const resolve = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      resolve?.(msg.value);
    });
  }

  call<T>(fn: string, args: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve as (value: unknown) => void);
      this.shell.send({ id, fn, args });
    });
  }
}

export function pyshell(): Contender {
  let set: LeastOutstanding<Shell> | undefined;
  let loaded: PythonShellClass | undefined;
  const call = <T>(fn: string, args: Record<string, unknown>): Promise<T> => set!.run((s) => s.call<T>(fn, args));
  return {
    name: 'python-shell',
    caps: { maxWorkers: Infinity, binary: 'JSON lines over stdio: base64 strings', inProcess: false },
    async load() {
      loaded = (createRequire(import.meta.url)('python-shell') as { PythonShell: PythonShellClass }).PythonShell;
    },
    async start(workers) {
      const PythonShellClass = loaded;
      if (PythonShellClass === undefined) throw new Error('not loaded');
      const script = path.join(BENCH_DIR, 'peers', 'pyshell_worker.py');
      const shells = Array.from(
        { length: workers },
        () => new Shell(new PythonShellClass(script, { mode: 'json', pythonPath: PYTHON })),
      );
      await Promise.all(shells.map((s) => new Promise<void>((resolve) => s.shell.childProcess.once('spawn', () => resolve()))));
      set = new LeastOutstanding(shells);
    },
    add: (a, b) => call('add', { a, b }),
    bytesTo: (data) => call('byte_len_b64', { data: data.toString('base64') }),
    bytesFrom: async (n) => Buffer.from(await call<string>('make_bytes_b64', { n }), 'base64'),
    arrayTo: (data) => call('array_sum_b64', { data: f64Bytes(data).toString('base64') }),
    arrayFrom: async (n) => asFloat64(Buffer.from(await call<string>('make_array_b64', { n }), 'base64')),
    workerPids: () => set?.workers.map((s) => s.shell.childProcess.pid!) ?? [],
    async stop() {
      await Promise.all(
        set?.workers.map((s) => new Promise<void>((resolve) => s.shell.end(() => resolve()))) ?? [],
      );
    },
  };
}
