/** Snakepit: a Pool of `workers` processes, concurrency 32 per worker, the bench adapter. */

import { Pool } from '../library.js';
import { asFloat64, f64Bytes, type Contender } from '../contender.js';
import { ADAPTER, PYTHON } from '../env.js';

export function snakepit(concurrency = 32): Contender {
  let pool: Pool | undefined;
  const p = (): Pool => pool ?? (() => { throw new Error('not started'); })();
  return {
    name: concurrency === 1 ? 'snakepit' : `snakepit c${concurrency}`,
    caps: { maxWorkers: Infinity, binary: 'native MessagePack bin (Buffer in, Buffer out)', inProcess: false },
    async start(workers) {
      pool = await Pool.start({ adapter: ADAPTER, python: PYTHON, size: workers, concurrency });
    },
    add: (a, b) => p().execute<number>('add', { a, b }),
    bytesTo: (data) => p().execute<number>('byte_len', { data }),
    bytesFrom: (n) => p().execute<Uint8Array>('make_bytes', { n }),
    arrayTo: (data) => p().execute<number>('array_sum', { data: f64Bytes(data) }),
    arrayFrom: async (n) => asFloat64(await p().execute<Uint8Array>('make_array', { n })),
    workerPids: () => p().stats().workerList.map((w) => w.pid).filter((x): x is number => x !== undefined),
    async stop() {
      await pool?.close();
    },
  };
}
