/** The one rule for a worker's free capacity: every placement decision asks this. */

import type { WorkerHandle } from '../worker/worker.js';

/** Calls `worker` may take now: none unless it is ready and not retiring. */
export function freeSlots(worker: WorkerHandle): number {
  return worker.accepting ? worker.concurrency - worker.pending.size : 0;
}
