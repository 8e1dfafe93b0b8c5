/**
 * Snakepit: a Pool of `workers` processes with the given concurrency per worker, the bench adapter.
 * `cold`: every start without the bridge's cached bytecode (removed first; PYTHONDONTWRITEBYTECODE=1
 * keeps the workers from writing it back), as on a first start from a read-only install.
 */

import type { Pool } from '../library.js';
import { asFloat64, f64Bytes, type Contender } from '../contender.js';
import { ADAPTER, compileBytecode, dropBridgeBytecode, importLibrary, PYTHON } from '../env.js';

/**
 * `forkserver`: workers forked from a zygote (startMethod 'forkserver'); `workerPids` then lists the
 * zygote too (last), so that memory per worker can count the pages it shares (bench/forkserver.ts).
 * `firstReady`: `minReady: 1`, Pool.start resolves once one worker is ready (the others start after).
 */
export function snakepit(concurrency = 32, cold = false, forkserver = false, firstReady = false): Contender {
  let lib: typeof import('../../../src/index.js') | undefined;
  let pool: Pool | undefined;
  const p = (): Pool => pool ?? (() => { throw new Error('not started'); })();
  return {
    name:
      (forkserver ? 'snakepit forkserver' : concurrency === 1 ? 'snakepit' : `snakepit c${concurrency}`) +
      (cold ? ' cold' : '') +
      (firstReady ? ' minReady 1' : ''),
    caps: { maxWorkers: Infinity, binary: 'native MessagePack bin (Buffer in, Buffer out)', inProcess: false },
    async load() {
      // The bundle itself, as `import { Pool } from 'snakepit'` loads it (not bench/lib/library.ts, which
      // tsx would compile first).
      lib = await importLibrary();
    },
    async start(workers) {
      if (lib === undefined) throw new Error('not loaded');
      if (cold) dropBridgeBytecode();
      const env: Record<string, string> = cold ? { PYTHONDONTWRITEBYTECODE: '1' } : {};
      const method = forkserver ? ({ startMethod: 'forkserver' } as const) : {};
      const ready = firstReady ? { minReady: 1 } : {};
      pool = await lib.Pool.start({ adapter: ADAPTER, python: PYTHON, size: workers, concurrency, env, ...method, ...ready });
    },
    add: (a, b) => p().execute<number>('add', { a, b }),
    bytesTo: (data) => p().execute<number>('byte_len', { data }),
    bytesFrom: (n) => p().execute<Uint8Array>('make_bytes', { n }),
    arrayTo: (data) => p().execute<number>('array_sum', { data: f64Bytes(data) }),
    arrayFrom: async (n) => asFloat64(await p().execute<Uint8Array>('make_array', { n })),
    workerPids: () =>
      [...p().stats().workerList.map((w) => w.pid), p().stats().forkServer?.pid].filter((x): x is number => x !== undefined),
    async stop() {
      await pool?.close();
      if (cold) compileBytecode(); // for the contenders that follow
    },
  };
}
