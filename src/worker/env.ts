/** The SNAKEPIT_* settings a worker reads from its environment, whatever transport starts it. */

import type { CodecName } from '../protocol/messages.js';

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
    SNAKEPIT_WORKER_ID: String(s.workerId),
    SNAKEPIT_CONCURRENCY: String(s.concurrency),
    SNAKEPIT_MAX_PAYLOAD: String(s.maxPayload),
    SNAKEPIT_CODECS: s.codecs.join(','),
    SNAKEPIT_HOST_PID: String(process.pid),
    SNAKEPIT_RUN_ID: s.runId,
  };
  if (s.memoryLimit > 0) env.SNAKEPIT_MEMORY_LIMIT = String(s.memoryLimit);
  return env;
}
