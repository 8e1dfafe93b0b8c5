/**
 * Where worker output goes: the `logs` pool option.
 *
 * - `'inherit'` (default): each line is written to the host's stderr, prefixed with
 *   `[python worker N pid P]`, and published as a `log` event.
 * - `'events'`: only published (`pool.on('log')`, `pool.events({ types: ['log'] })`, the
 *   `snakepit:worker:log` diagnostics channel); nothing is printed.
 * - a function: called with each record (and the record is published too).
 *
 * Memory stays bounded whatever a worker prints: lines are handled as they arrive (stderr writes to
 * pipes and files are synchronous on Linux), never collected.
 */

import { InvalidOptionsError } from '../errors.js';
import type { LogEvent } from '../events.js';

/** A structured log record: one line of stdout/stderr, or one Python `logging` record. */
export type LogRecord = LogEvent;

export type LogsOption = 'inherit' | 'events' | ((record: LogRecord) => void);

export function checkLogsOption(value: unknown): LogsOption {
  if (value === undefined) return 'inherit';
  if (value === 'inherit' || value === 'events' || typeof value === 'function') return value as LogsOption;
  const got = typeof value === 'string' ? JSON.stringify(value) : typeof value;
  throw new InvalidOptionsError(`options.logs must be "inherit", "events" or a function, got ${got}`);
}

/** The text a record prints as under `'inherit'`. */
export function formatRecord(record: LogRecord): string {
  const prefix = `[python worker ${record.workerId} pid ${record.pid ?? '?'}]`;
  let text: string;
  if (record.stream === 'worker') {
    const logger = record.logger !== undefined && record.logger !== null ? ` ${record.logger}` : '';
    text = `${prefix} ${record.level.toUpperCase()}${logger}: ${record.line}`;
  } else {
    text = `${prefix} ${record.line}`;
  }
  if (record.exception) text += '\n' + record.exception.replace(/^/gm, `${prefix}   `);
  return text + '\n';
}

/** Delivers records according to the `logs` option. Never throws. */
export class LogRouter {
  private warned = false;

  constructor(private readonly mode: LogsOption) {}

  /** True when records must be built even with no event subscriber. */
  get always(): boolean {
    return this.mode !== 'events';
  }

  deliver(record: LogRecord): void {
    const mode = this.mode;
    if (mode === 'events') return;
    if (mode === 'inherit') {
      try {
        process.stderr.write(formatRecord(record));
      } catch {
        /* stderr closed: the record is still published */
      }
      return;
    }
    try {
      mode(record);
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(`the logs function of the pool threw (further throws are ignored): ${String(err)}`, {
          code: 'SNAKEPIT_LOGS_FUNCTION',
        });
      }
    }
  }
}
