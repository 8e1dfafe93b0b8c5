/** The SNAKEPIT_* settings a worker reads from its environment, whatever transport starts it. */

import { arrowAvailable } from '../data/arrow.js';
import { ENV, type CodecName } from '../protocol/messages.js';

export interface WorkerSettings {
  workerId: number;
  concurrency: number;
  maxPayload: number;
  codecs: readonly CodecName[];
  /** RLIMIT_AS in bytes the worker sets on itself before loading the adapter (0: none). */
  memoryLimit: number;
  /** The pool's run id: marks the worker and everything it starts, for the run registry. */
  runId: string;
}

export function settingsEnv(s: WorkerSettings): Record<string, string> {
  const env: Record<string, string> = {
    [ENV.WORKER_ID]: String(s.workerId),
    [ENV.CONCURRENCY]: String(s.concurrency),
    [ENV.MAX_PAYLOAD]: String(s.maxPayload),
    [ENV.CODECS]: s.codecs.join(','),
    [ENV.HOST_PID]: String(process.pid),
    [ENV.RUN_ID]: s.runId,
    // Whether this host can read Arrow tables: without apache-arrow, a worker refuses to send one (naming the package).
    [ENV.HOST_ARROW]: arrowAvailable() ? '1' : '0',
  };
  if (s.memoryLimit > 0) env[ENV.MEMORY_LIMIT] = String(s.memoryLimit);
  return env;
}
