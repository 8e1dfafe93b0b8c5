/**
 * The AbortControllers of the calls an agent runs, used again. Node 20 takes about 1.7 µs to make
 * one (its signal is an EventTarget) and more to collect it: reusing them took the agent's CPU time
 * per call at 64 in flight from 36.0 to 31.7 µs (bench/cluster.ts). A controller goes back for
 * another call once its call has settled, unless it was aborted or anything still listens on its
 * signal.
 */

import { getEventListeners } from 'node:events';

export class Controllers {
  private readonly free: AbortController[] = [];

  constructor(private readonly max = 256) {}

  take(): AbortController {
    return this.free.pop() ?? new AbortController();
  }

  /** A settled call's controller: kept for another call when nothing can tell it was used. */
  give(ac: AbortController): void {
    if (ac.signal.aborted || this.free.length >= this.max || getEventListeners(ac.signal, 'abort').length > 0) return;
    this.free.push(ac);
  }
}
