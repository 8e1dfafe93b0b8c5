/**
 * Where the pool's events go: telemetry (metrics and the dashboard; log lines as the `logs` option
 * routes them), the `snakepit:<area>:<event>` diagnostics channels and the pool's EventEmitter, each
 * only when something listens; and the shape of the events of a worker's life (spawn, ready, exit)
 * and of its log lines. The pool (core.ts), the supervisor and the fork server publish through it.
 */

import type { EventEmitter } from 'node:events';
import { channels, type LogEvent, type PoolEvent, type PoolEventMap } from '../events.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { ExitInfo, LogStream, WorkerHandle } from '../worker/worker.js';

export class EventPublisher {
  constructor(
    private readonly emitter: EventEmitter<PoolEventMap>,
    private readonly telemetry: Telemetry,
  ) {}

  publish<K extends keyof PoolEventMap>(name: K, event: PoolEventMap[K][0]): void {
    if (name !== 'log') this.telemetry.event(event);
    const channel = channels[name];
    if (channel.hasSubscribers) channel.publish(event);
    if (this.emitter.listenerCount(name) > 0) {
      (this.emitter.emit as (n: string, e: PoolEvent) => boolean)(name, event);
    }
  }

  /** A line of a worker's stdout or stderr, or a log frame (`level`); nothing is built if nobody takes it. */
  log(worker: WorkerHandle, stream: LogStream, line: string, level?: string, requestId?: number, logger?: string, exception?: string): void {
    const published = this.emitter.listenerCount('log') > 0 || channels.log.hasSubscribers;
    if (!published && !this.telemetry.logs.always) return;
    // A line printed inside a call comes as a log frame of level stdout or stderr (python logs.py).
    if (stream === 'worker' && (level === 'stdout' || level === 'stderr')) stream = level;
    const event: LogEvent = {
      type: 'log',
      workerId: worker.id,
      pid: worker.pid,
      stream,
      line,
      level: level === 'stdout' || level === undefined ? (stream === 'stderr' ? 'stderr' : 'info') : level,
      requestId: requestId ?? undefined,
    };
    if (logger != null) event.logger = logger;
    if (exception != null) event.exception = exception;
    this.telemetry.log(event);
    if (published) this.publish('log', event);
  }

  workerSpawn(worker: WorkerHandle): void {
    this.publish('workerSpawn', { type: 'workerSpawn', workerId: worker.id, pid: worker.pid! });
  }

  workerReady(worker: WorkerHandle): void {
    const info = worker.info!;
    this.publish('workerReady', {
      type: 'workerReady',
      workerId: worker.id,
      pid: worker.pid!,
      python: info.python,
      codec: info.codec,
      startMs: Math.round(performance.now() - worker.startedAt),
    });
  }

  workerExit(worker: WorkerHandle, info: ExitInfo): void {
    this.publish('workerExit', {
      type: 'workerExit',
      workerId: worker.id,
      pid: worker.pid,
      code: info.code,
      signal: info.signal,
      reason: info.reason,
      lostCalls: info.lostCalls ?? 0,
    });
  }
}
