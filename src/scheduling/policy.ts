/**
 * The two extension points of the scheduler (scheduler.ts), with today's policies.
 *
 * - `WaitingRoom`: where calls that no worker can take yet wait, and in which order they leave.
 *   Today one FIFO. Per-tenant queues with weighted fair selection implement this interface: `push`
 *   files a call under its tenant, `shift` picks the tenant whose turn it is (for example the lowest
 *   virtual finish time, weight-scaled) and takes that tenant's oldest call.
 * - `PlacementPolicy`: given a worker with free slots, which waiting calls leave for it as one unit.
 *   Today one call at a time. A batching policy returns several queued calls to one batched tool (up
 *   to the worker's free slots and the tool's batch size), and the pool sends them as one frame.
 */

import { CallQueue, type Queued } from './queue.js';

/** What the scheduler knows of a call. */
export interface Schedulable extends Queued {
  readonly id: number;
  readonly tool: string;
  /** The caller's side settled (aborted, timed out) while it waited: skip it. */
  readonly settled: boolean;
}

/** The waiting calls not bound to one worker, and the order they leave in. */
export interface WaitingRoom<T extends Schedulable> {
  readonly length: number;
  /** Most calls that waited at once. */
  readonly peak: number;
  push(call: T): void;
  /** Put a call back at the front (a retry of a call whose worker died goes first). */
  unshift(call: T): void;
  /** The next call to place, or undefined when none waits. */
  shift(): T | undefined;
  /** Take a call out (it was aborted or timed out while waiting). */
  remove(call: T): boolean;
  /** Take every waiting call out. */
  drain(): T[];
}

/** Decides which waiting calls leave together for one worker. */
export interface PlacementPolicy<T extends Schedulable> {
  /** Take the calls to send to a worker with `free` (> 0) slots; empty when none waits. */
  take(room: WaitingRoom<T>, free: number): T[];
}

/** One FIFO for every caller. */
export function fifoRoom<T extends Schedulable>(): WaitingRoom<T> {
  return new CallQueue<T>();
}

/** One call per placement (no batching). */
export const onePerPlacement: PlacementPolicy<Schedulable> = {
  take(room) {
    const call = room.shift();
    return call === undefined ? [] : [call];
  },
};
