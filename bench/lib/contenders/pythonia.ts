/**
 * pythonia (JSPyBridge): imports bench/work.py into the one Python process that pythonia runs per Node
 * process and calls its functions through proxies. Its messages are JSON, with no bytes type, so bytes
 * and arrays travel as base64 strings. Loading the module spawns the Python process, so it is loaded
 * in start() and counts towards the startup time.
 */

import { createRequire } from 'node:module';
import path from 'node:path';
import { asFloat64, f64Bytes, type Contender } from '../contender.js';
import { BENCH_DIR, PYTHON } from '../env.js';

type WorkProxy = Record<string, (...args: unknown[]) => Promise<unknown>>;
interface Pythonia {
  python: ((file: string) => Promise<WorkProxy>) & { exit(): void };
  com: { proc: { pid: number } | null };
}

export function pythonia(): Contender {
  let lib: Pythonia | undefined;
  let work: WorkProxy | undefined;
  const call = <T>(fn: string, ...args: unknown[]): Promise<T> => work![fn]!(...args) as Promise<T>;
  return {
    name: 'pythonia',
    caps: {
      maxWorkers: 1,
      workersNote: 'one Python process per Node process',
      binary: 'JSON over Node IPC: base64 strings',
      inProcess: false,
    },
    async start(workers) {
      if (workers !== 1) throw new Error('pythonia runs one Python process per Node process');
      process.env.PYTHON_BIN = PYTHON;
      lib = createRequire(import.meta.url)('pythonia') as Pythonia;
      work = await lib.python(path.join(BENCH_DIR, 'work.py'));
    },
    add: (a, b) => call('add', a, b),
    bytesTo: (data) => call('byte_len_b64', data.toString('base64')),
    bytesFrom: async (n) => Buffer.from(await call<string>('make_bytes_b64', n), 'base64'),
    arrayTo: (data) => call('array_sum_b64', f64Bytes(data).toString('base64')),
    arrayFrom: async (n) => asFloat64(Buffer.from(await call<string>('make_array_b64', n), 'base64')),
    workerPids: () => (lib?.com.proc ? [lib.com.proc.pid] : []),
    async stop() {
      lib?.python.exit();
    },
  };
}
