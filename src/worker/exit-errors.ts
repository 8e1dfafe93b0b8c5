/**
 * What a worker's exit is reported as: the error `start()` rejects with when the process exited
 * before it was ready (the adapter's import or `setup()` failed, as its fatal frame tells, or it
 * just exited), and the error each call in flight is settled with when it went away later (it
 * crashed, was killed, or was stopped). Both carry the exit code or signal and the stderr tail.
 */

import { WorkerCrashedError, WorkerStartError, type SnakepitError } from '../errors.js';
import type { WorkerExitReason } from '../events.js';
import type { WireError } from '../protocol/messages.js';

/** How a worker's process ended. */
export interface WorkerExit {
  readonly workerId: number;
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by signal ${signal}` : `exited with code ${code}`;
}

/** The process exited before it was ready; `fatal` is the traceback it sent, if it sent one. */
export function startError(exit: WorkerExit, fatal: WireError | undefined, adapter: string, python: string): WorkerStartError {
  const { workerId, pid, code, signal, stderrTail } = exit;
  if (fatal) {
    const where =
      fatal.phase === 'setup'
        ? 'setup() of the adapter failed'
        : `cannot load adapter ${JSON.stringify(adapter)} with Python ${JSON.stringify(python)}`;
    const what = fatal.type ? `${fatal.type}: ${fatal.message}` : fatal.message;
    return new WorkerStartError(`worker ${workerId}: ${where}: ${what}\n${fatal.traceback}`, {
      workerId,
      pid,
      phase: fatal.phase ?? 'import',
      stderrTail,
      exitCode: code,
      signal,
      pythonTraceback: fatal.traceback,
    });
  }
  const tail = stderrTail ? `\n--- stderr ---\n${stderrTail}` : '';
  return new WorkerStartError(`worker ${workerId} ${describeExit(code, signal)} before it was ready${tail}`, {
    workerId,
    pid,
    phase: 'start',
    stderrTail,
    exitCode: code,
    signal,
  });
}

/** The error a call in flight is settled with when its worker went away for `reason`. */
export function crashError(exit: WorkerExit, reason: WorkerExitReason): SnakepitError {
  const { workerId, pid, code, signal, stderrTail } = exit;
  const why =
    reason === 'shutdown' || reason === 'killed' || reason === 'recycled'
      ? 'was stopped'
      : reason === 'cancel-grace'
        ? 'was killed after a call ignored cancellation'
        : describeExit(code, signal);
  const tail = stderrTail ? `\n--- stderr ---\n${stderrTail}` : '';
  return new WorkerCrashedError(`worker ${workerId} (pid ${pid}) ${why} with the call in flight${tail}`, {
    workerId,
    pid,
    exitCode: code,
    signal,
    stderrTail,
  });
}
