/**
 * `pool.events()`: the pool's events as an async iterator with a bounded buffer. A consumer that
 * falls behind loses the oldest events, and is told so by an `eventsDropped` event carrying the count,
 * delivered before the next event. The iterator ends after the pool's transition to `closed`, or when
 * the consumer leaves the loop (which removes its listeners).
 */

import type { EventEmitter } from 'node:events';
import { InvalidOptionsError } from '../errors.js';
import type { PoolEvent, PoolEventMap, PoolEventType } from '../events.js';

export interface EventsDroppedEvent {
  type: 'eventsDropped';
  /** Events lost because the buffer was full. */
  dropped: number;
}

export type PoolIteratorEvent = PoolEvent | EventsDroppedEvent;

export interface EventsOptions {
  /** Event types to receive. Default: every type except `log`. */
  types?: readonly PoolEventType[];
  /** Events held for a slow consumer before the oldest are dropped. Default 1024. */
  bufferSize?: number;
}

const ALL_TYPES: readonly PoolEventType[] = ['workerSpawn', 'workerReady', 'workerExit', 'workerRecycle', 'workerRestart', 'log', 'zygoteReady', 'zygoteExit', 'poolState'];

export function checkEventsOptions(options: unknown): { types: readonly PoolEventType[]; bufferSize: number } {
  if (options === undefined) return { types: ALL_TYPES.filter((t) => t !== 'log'), bufferSize: 1024 };
  if (options === null || typeof options !== 'object') throw new InvalidOptionsError('events options must be an object');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'types' && key !== 'bufferSize') throw new InvalidOptionsError(`events option ${key} is not known (known: types, bufferSize)`);
  }
  const size = o.bufferSize ?? 1024;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 1_000_000) {
    throw new InvalidOptionsError(`events option bufferSize must be an integer from 1 to 1000000, got ${String(size)}`);
  }
  let types: readonly PoolEventType[] = ALL_TYPES.filter((t) => t !== 'log');
  if (o.types !== undefined) {
    if (!Array.isArray(o.types) || o.types.length === 0) throw new InvalidOptionsError('events option types must be a non-empty array of event types');
    for (const t of o.types) {
      if (!ALL_TYPES.includes(t as PoolEventType)) {
        throw new InvalidOptionsError(`events option types: unknown event type ${JSON.stringify(t)} (known: ${ALL_TYPES.join(', ')})`);
      }
    }
    types = o.types as PoolEventType[];
  }
  return { types, bufferSize: size };
}

export class PoolEventIterator implements AsyncIterableIterator<PoolIteratorEvent> {
  private readonly buffer: PoolIteratorEvent[] = [];
  private dropped = 0;
  private done = false;
  private waiter: ((result: IteratorResult<PoolIteratorEvent>) => void) | undefined;
  private readonly listeners: [PoolEventType, (event: PoolEvent) => void][] = [];

  constructor(
    private readonly emitter: EventEmitter<PoolEventMap>,
    types: readonly PoolEventType[],
    private readonly bufferSize: number,
    closed: boolean,
  ) {
    if (closed) {
      this.done = true;
      return;
    }
    const on = emitter.on.bind(emitter) as (name: string, fn: (event: PoolEvent) => void) => void;
    for (const type of types) {
      const fn = (event: PoolEvent): void => this.push(event);
      this.listeners.push([type, fn]);
      on(type, fn);
    }
    // The end of the pool ends the iterator, whether or not the consumer asked for state events.
    if (!types.includes('poolState')) {
      const fn = (event: PoolEvent): void => {
        if (event.type === 'poolState' && event.to === 'closed') this.finish();
      };
      this.listeners.push(['poolState', fn]);
      on('poolState', fn);
    }
  }

  /** Events waiting to be read. */
  get buffered(): number {
    return this.buffer.length;
  }

  private push(event: PoolEvent): void {
    if (this.done) return;
    const waiter = this.waiter;
    if (waiter !== undefined && this.buffer.length === 0 && this.dropped === 0) {
      this.waiter = undefined;
      waiter({ value: event, done: false });
    } else {
      if (this.buffer.length >= this.bufferSize) {
        this.buffer.shift();
        this.dropped++;
      }
      this.buffer.push(event);
    }
    if (event.type === 'poolState' && event.to === 'closed') this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.unsubscribe();
    if (this.waiter !== undefined && this.buffer.length === 0 && this.dropped === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  private unsubscribe(): void {
    const off = this.emitter.removeListener.bind(this.emitter) as (name: string, fn: (event: PoolEvent) => void) => void;
    for (const [type, fn] of this.listeners) off(type, fn);
    this.listeners.length = 0;
  }

  next(): Promise<IteratorResult<PoolIteratorEvent>> {
    if (this.dropped > 0) {
      const dropped = this.dropped;
      this.dropped = 0;
      return Promise.resolve({ value: { type: 'eventsDropped', dropped }, done: false });
    }
    const event = this.buffer.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== undefined) return Promise.reject(new TypeError('events(): next() called again before the previous call settled'));
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** Leaving the loop stops listening. */
  return(): Promise<IteratorResult<PoolIteratorEvent>> {
    this.buffer.length = 0;
    this.dropped = 0;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
