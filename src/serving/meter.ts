/**
 * Metering: one record per call that passed through the serving layer, published on the diagnostics
 * channel `snakepit:serving:meter` and, when the pool option `metering` is set, written to a JSON
 * Lines file or given to a function.
 */

import { channel } from 'node:diagnostics_channel';
import { createWriteStream, type WriteStream } from 'node:fs';
import { SnakepitError } from '../errors.js';

export interface MeterRecord {
  /** ISO time the call settled. */
  readonly time: string;
  readonly tenant: string;
  readonly tool: string;
  /** Milliseconds the call waited on the host before the pool took it (fair queue, batch assembly). */
  readonly queueMs: number;
  /** Milliseconds from then until it settled: the pool's own queue (short while tenants are on) and the run. */
  readonly runMs: number;
  /** Calls in the batch the call ran in (1 for an unbatched call). */
  readonly batchSize: number;
  /** Served from the host's result cache, without a round trip. */
  readonly cached: boolean;
  readonly outcome: 'ok' | 'error';
  /** The error code, for a failed call. */
  readonly code?: string;
}

export const meterChannel = channel('snakepit:serving:meter');

export class Meter {
  private readonly file: WriteStream | undefined;
  private readonly fn: ((record: MeterRecord) => void) | undefined;

  constructor(sink: string | ((record: MeterRecord) => void) | null) {
    if (typeof sink === 'string') {
      this.file = createWriteStream(sink, { flags: 'a' });
      this.file.on('error', (err) => process.emitWarning(`metering file ${sink}: ${err.message}`, 'SnakepitWarning'));
    } else if (sink !== null) this.fn = sink;
  }

  /** Whether anything reads the records (else none is made). */
  get active(): boolean {
    return this.file !== undefined || this.fn !== undefined || meterChannel.hasSubscribers;
  }

  record(tenant: string, tool: string, startedAt: number, queuedUntil: number, batchSize: number, cached: boolean, error: unknown): void {
    const now = performance.now();
    const record: MeterRecord = {
      time: new Date().toISOString(),
      tenant,
      tool,
      queueMs: round(queuedUntil - startedAt),
      runMs: round(now - queuedUntil),
      batchSize,
      cached,
      outcome: error === undefined ? 'ok' : 'error',
      ...(error === undefined ? {} : { code: error instanceof SnakepitError ? error.code : 'UNKNOWN' }),
    };
    if (meterChannel.hasSubscribers) meterChannel.publish(record);
    this.file?.write(`${JSON.stringify(record)}\n`);
    if (this.fn !== undefined) {
      try {
        this.fn(record);
      } catch (err) {
        process.emitWarning(`metering function threw: ${(err as Error)?.message ?? String(err)}`, 'SnakepitWarning');
      }
    }
  }

  close(): Promise<void> {
    const file = this.file;
    if (file === undefined) return Promise.resolve();
    return new Promise((resolve) => file.end(resolve));
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
