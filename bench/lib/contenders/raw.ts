/** The raw framed-pipe baseline: bench/raw_worker.py processes, calls spread by least outstanding. */

import { asFloat64, f64Bytes, LeastOutstanding, type Contender } from '../contender.js';
import { PYTHON } from '../env.js';
import { RawWorker } from '../raw.js';

export function raw(): Contender {
  let set: LeastOutstanding<RawWorker> | undefined;
  const call = <T>(name: string, args: Record<string, unknown>): Promise<T> =>
    set!.run((w) => w.call(name, args) as Promise<T>);
  return {
    name: 'raw pipe',
    caps: { maxWorkers: Infinity, binary: 'native MessagePack bin (Buffer in, Buffer out)', inProcess: false },
    async start(workers) {
      const started = await Promise.all(Array.from({ length: workers }, () => RawWorker.start(PYTHON, 0, false)));
      set = new LeastOutstanding(started);
    },
    add: (a, b) => call('add', { a, b }),
    bytesTo: (data) => call('byte_len', { data }),
    bytesFrom: (n) => call('make_bytes', { n }),
    arrayTo: (data) => call('array_sum', { data: f64Bytes(data) }),
    arrayFrom: async (n) => asFloat64(await call<Uint8Array>('make_array', { n })),
    workerPids: () => set?.workers.map((w) => w.pid) ?? [],
    async stop() {
      await Promise.all(set?.workers.map((w) => w.close()) ?? []);
    },
  };
}
