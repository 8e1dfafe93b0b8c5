/**
 * node-calls-python: CPython embedded in the Node process (a native addon linked against libpython).
 * Calls use the asynchronous `call`, which runs on libuv's thread pool under the GIL. There is one
 * interpreter per process, so one "worker". Buffers arrive in Python as bytes and bytes come back as
 * ArrayBuffers. Loading the addon starts the interpreter, so it is loaded in start().
 */

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { asFloat64, f64Bytes, type Contender } from '../contender.js';
import { BENCH_DIR, PYTHON } from '../env.js';

interface Interpreter {
  addImportPath(p: string): void;
  import(file: string, allowReimport: boolean): Promise<unknown>;
  call(module: unknown, fn: string, ...args: unknown[]): Promise<unknown>;
}

/** The site-packages of the benchmark's Python (NumPy), which the embedded interpreter does not know about. */
function sitePackages(): string {
  return execFileSync(PYTHON, ['-c', 'import site; print(site.getsitepackages()[0])'], { encoding: 'utf8' }).trim();
}

export function ncp(): Contender {
  let py: Interpreter | undefined;
  let work: unknown;
  const call = <T>(fn: string, ...args: unknown[]): Promise<T> => py!.call(work, fn, ...args) as Promise<T>;
  return {
    name: 'node-calls-python',
    caps: {
      maxWorkers: 1,
      workersNote: 'one embedded interpreter per Node process; calls serialise on the GIL',
      binary: 'in-process: Buffer to bytes, bytes to ArrayBuffer (copies)',
      inProcess: true,
    },
    async start(workers) {
      if (workers !== 1) throw new Error('node-calls-python embeds one interpreter per Node process');
      const lib = createRequire(import.meta.url)('node-calls-python') as { interpreter: Interpreter };
      py = lib.interpreter;
      py.addImportPath(BENCH_DIR);
      py.addImportPath(sitePackages());
      work = await py.import(path.join(BENCH_DIR, 'work.py'), false);
    },
    add: (a, b) => call('add', a, b),
    bytesTo: (data) => call('byte_len', data),
    bytesFrom: async (n) => new Uint8Array(await call<ArrayBuffer>('make_bytes', n)),
    arrayTo: (data) => call('array_sum', f64Bytes(data)),
    arrayFrom: async (n) => asFloat64(new Uint8Array(await call<ArrayBuffer>('make_array', n))),
    workerPids: () => [],
    async stop() {
      /* the interpreter lives as long as the process */
    },
  };
}
