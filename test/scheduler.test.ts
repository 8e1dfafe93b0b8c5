/** The scheduler's rules, on stand-in workers and calls (pure logic; the pool tests run it for real). */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SnakepitError } from '../src/errors.js';
import type { PlacementPolicy } from '../src/scheduling/policy.js';
import { Scheduler, type ScheduledCall } from '../src/scheduling/scheduler.js';
import type { WorkerHandle } from '../src/worker/worker.js';

interface FakeWorker {
  id: number;
  accepting: boolean;
  concurrency: number;
  pending: Map<number, unknown>;
}

class FakeCall implements ScheduledCall {
  dequeued = false;
  settled = false;
  nested = false;
  error: SnakepitError | undefined;
  constructor(
    readonly id: number,
    readonly tool = 't',
  ) {}
  armQueueTimeout(): void {}
  fail(error: SnakepitError): void {
    this.settled = true;
    this.error = error;
  }
}

function worker(id: number, concurrency: number, busy = 0, accepting = true): FakeWorker {
  const pending = new Map<number, unknown>();
  for (let i = 0; i < busy; i++) pending.set(-1 - i, null);
  return { id, accepting, concurrency, pending };
}

function setup(workers: FakeWorker[], maxQueue = 10, placement?: PlacementPolicy<FakeCall>) {
  const sent: [number, number][] = [];
  const sessionSent: [number, number][] = [];
  const scheduler = new Scheduler<FakeCall>(
    {
      workers: workers as unknown as WorkerHandle[],
      options: { maxQueue, queueTimeout: 0 },
      dispatch: (call, w) => {
        sent.push([call.id, w.id]);
        (w as unknown as FakeWorker).pending.set(call.id, call);
      },
      placeSessionCall: (call, w) => {
        sessionSent.push([call.id, w.id]);
        (w as unknown as FakeWorker).pending.set(call.id, call);
      },
    },
    placement === undefined ? {} : { placement },
  );
  return { scheduler, sent, sessionSent };
}

const never = (): SnakepitError => {
  throw new Error('not nested');
};

describe('scheduler', () => {
  it('places on the worker with the most free slots; a retiring worker has none', () => {
    const retiring = worker(1, 8, 0, false);
    const busy = worker(2, 4, 3);
    const { scheduler, sent } = setup([retiring, busy]);
    scheduler.submit(new FakeCall(1), never);
    assert.deepEqual(sent, [[1, 2]]);
  });

  it('a session never binds to a retiring worker, whatever its free slots', () => {
    const retiring = worker(1, 8, 0, false);
    const other = worker(2, 1, 1);
    const { scheduler } = setup([retiring, other]);
    assert.equal(scheduler.bindTarget(() => 0)?.id, 2);
    assert.equal(setup([retiring]).scheduler.bindTarget(() => 0), undefined);
  });

  it('binds by free slots less waiting session calls, then by fewest sessions', () => {
    const a = worker(1, 2);
    const b = worker(2, 2);
    const { scheduler } = setup([a, b]);
    assert.equal(scheduler.bindTarget((w) => (w.id === 1 ? 3 : 1))?.id, 2);
    scheduler.enqueueSession(new FakeCall(9), b as unknown as WorkerHandle, false);
    assert.equal(scheduler.bindTarget((w) => (w.id === 1 ? 3 : 1))?.id, 1);
  });

  it('maxQueue bounds the shared and the session queues together', () => {
    const full = worker(1, 1, 1);
    const { scheduler } = setup([full], 2);
    scheduler.enqueueSession(new FakeCall(1), full as unknown as WorkerHandle, false);
    scheduler.submit(new FakeCall(2), never);
    const third = new FakeCall(3);
    scheduler.submit(third, never);
    assert.equal(third.error?.code, 'POOL_SATURATED');
    assert.equal(scheduler.queued, 2);
  });

  it('a freed slot serves the worker\'s session calls first, then the shared queue', () => {
    const w = worker(1, 1, 1);
    const { scheduler, sent, sessionSent } = setup([w]);
    scheduler.submit(new FakeCall(1), never);
    scheduler.enqueueSession(new FakeCall(2), w as unknown as WorkerHandle, false);
    w.pending.clear();
    scheduler.onSlotFree(w as unknown as WorkerHandle);
    assert.deepEqual(sessionSent, [[2, 1]]);
    assert.deepEqual(sent, []);
    w.pending.clear();
    scheduler.onSlotFree(w as unknown as WorkerHandle);
    assert.deepEqual(sent, [[1, 1]]);
  });

  it('a placement policy can send several waiting calls to one worker as one unit (batching)', () => {
    const w = worker(1, 4, 4);
    const units: number[][] = [];
    const sameTool: PlacementPolicy<FakeCall> = {
      take(room, free) {
        const unit: FakeCall[] = [];
        for (let call = room.shift(); call !== undefined; call = unit.length < free ? room.shift() : undefined) unit.push(call);
        units.push(unit.map((c) => c.id));
        return unit;
      },
    };
    const { scheduler, sent } = setup([w], 10, sameTool);
    for (const id of [1, 2, 3]) scheduler.submit(new FakeCall(id), never);
    w.pending.clear();
    scheduler.pump();
    assert.deepEqual(units[0], [1, 2, 3]);
    assert.deepEqual(sent, [[1, 1], [2, 1], [3, 1]]);
  });

  it('unqueue and failAll reach every queue', () => {
    const w = worker(1, 1, 1);
    const { scheduler } = setup([w]);
    const shared = new FakeCall(1);
    const bound = new FakeCall(2);
    const unbound = new FakeCall(3);
    scheduler.submit(shared, never);
    scheduler.enqueueSession(bound, w as unknown as WorkerHandle, false);
    scheduler.enqueueSession(unbound, undefined, false);
    assert.equal(scheduler.unqueue(bound), true);
    assert.equal(scheduler.queued, 2);
    scheduler.failAll({ code: 'POOL_CLOSED' } as SnakepitError);
    assert.equal(shared.error?.code, 'POOL_CLOSED');
    assert.equal(unbound.error?.code, 'POOL_CLOSED');
    assert.equal(bound.error, undefined);
    assert.equal(scheduler.queued, 0);
  });
});
