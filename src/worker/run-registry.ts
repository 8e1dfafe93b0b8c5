/**
 * The run registry: each running pool keeps a small JSON file in the state directory listing its host
 * (pid and process start time) and its workers (pid and process start time). When a pool starts, it
 * reaps what dead runs left behind: a run whose host process is gone (or whose host pid now belongs to
 * a process with another start time) is dead; each of its workers still running with the recorded
 * start time is killed with its process group. A pid whose start time no longer matches belongs to
 * another program and is never touched; workers of live hosts are never touched.
 *
 * When a dead worker's pid is free but processes of its group remain (grandchildren), only those
 * carrying the run's id in their environment (SNAKEPIT_RUN_ID, inherited from the worker) are killed;
 * then every process still carrying a dead run's id is killed, in whatever group or session it is.
 */

import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killGroup } from './process.js';
import { processStartTime, readStat } from './procfs.js';

interface RunFile {
  version: 1;
  hostPid: number;
  hostStart: number | null;
  runId: string;
  workers: { pid: number; start: number | null }[];
}

export interface ReapReport {
  /** Registry files of dead runs that were removed. */
  deadRuns: number;
  /** Processes killed (worker groups and stray group members). */
  killed: number[];
  /** Recorded pids left alone because they now belong to another process. */
  reused: number[];
}

const FILE = /^(\d+)-([A-Za-z0-9_-]+)\.json$/;

/** Temporary files of this process's registry writes: its pid is in the file's name, so a count is unique. */
let tmpCount = 0;

/** Runs of this process that have not ended: their processes are killed when the process exits. */
const liveRuns = new Set<string>();
let exitHandler = false;

/**
 * A new run id, live until `endRun`: if the host process exits first (uncaught exception,
 * process.exit), every process still carrying the id is killed by an `exit` handler.
 */
export function newRunId(): string {
  // Not a secret (a worker's environment shows its run's id), only distinct: the host's pid in hex (no
  // two live processes share one), then 48 bits of Math.random, which V8 seeds from the system's
  // entropy. Not node:crypto: its load would add about 3 ms to a pool's first start (src/boot/crypto.ts).
  const runId = process.pid.toString(16) + Math.floor(Math.random() * 2 ** 48).toString(16).padStart(12, '0');
  liveRuns.add(runId);
  if (!exitHandler) {
    exitHandler = true;
    process.on('exit', () => {
      for (const id of liveRuns) killRunProcesses(id);
    });
  }
  return runId;
}

/** The run is over (its pool closed or was destroyed): kill what still carries its id, and forget it. */
export function endRun(runId: string, spare: readonly number[] = []): void {
  killRunProcesses(runId, spare);
  liveRuns.delete(runId);
}

export class RunRegistry {
  private readonly file: string;
  private readonly workers = new Map<number, number | null>();
  /** This host's start time, read at the first write. */
  private hostStart: number | null | undefined;
  private disabled = false;
  /** Until `open`, pids are kept in memory only (a pool records its run once its first workers are spawned). */
  private opened = false;

  constructor(
    private readonly dir: string,
    readonly runId: string,
  ) {
    this.file = join(dir, `${process.pid}-${runId}.json`);
  }

  /**
   * Create the state directory and write the run's file, with the pids added so far; false (and the
   * registry stays off) when that is impossible.
   */
  open(): boolean {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.opened = true;
      this.write();
      return true;
    } catch (err) {
      this.disabled = true;
      process.emitWarning(`snakepit: run registry disabled, cannot write to ${this.dir}: ${(err as Error).message}`, {
        code: 'SNAKEPIT_RUN_REGISTRY',
      });
      return false;
    }
  }

  add(pid: number): void {
    this.workers.set(pid, processStartTime(pid) ?? null);
    this.write();
  }

  remove(pid: number): void {
    if (this.workers.delete(pid)) this.write();
  }

  /** Delete this run's file (the pool is closed). */
  close(): void {
    if (this.disabled) return;
    this.disabled = true;
    try {
      unlinkSync(this.file);
    } catch {
      /* already gone */
    }
  }

  private write(): void {
    if (this.disabled || !this.opened) return;
    if (this.hostStart === undefined) this.hostStart = processStartTime(process.pid) ?? null;
    const content: RunFile = {
      version: 1,
      hostPid: process.pid,
      hostStart: this.hostStart,
      runId: this.runId,
      workers: [...this.workers].map(([pid, start]) => ({ pid, start })),
    };
    const tmp = `${this.file}.${++tmpCount}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(content), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      try {
        unlinkSync(tmp);
      } catch {
        /* nothing written */
      }
    }
  }
}

/** Is the run described by `run` still owned by a live host process? */
function hostAlive(run: RunFile): boolean {
  const start = processStartTime(run.hostPid);
  if (start === undefined) return false;
  if (run.hostStart === null) return true; // no /proc when it was written: assume alive
  return start === run.hostStart;
}

/**
 * Pids of live processes whose environment carries `runId` (SNAKEPIT_RUN_ID, inherited from the
 * worker), in process group `pgid` when given, else anywhere: a grandchild started in a session of its
 * own (`start_new_session=True`) leaves the worker's group but keeps the variable. Only processes of
 * this user can be read; this process is never included.
 */
function runMembers(runId: string, pgid?: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const marker = `SNAKEPIT_RUN_ID=${runId}`;
  const out: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const stat = readStat(pid);
    if (stat === undefined || stat.state === 'Z' || (pgid !== undefined && stat.pgid !== pgid)) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (env.split('\0').includes(marker)) out.push(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}

/**
 * SIGKILL every process that carries run `runId` in its environment, wherever it is (its own session
 * included). Called for this pool's own run on every exit path after its workers are gone, and for
 * dead runs by the next start. Returns the pids killed. Never throws.
 */
export function killRunProcesses(runId: string, spare: readonly number[] = []): number[] {
  const killed: number[] = [];
  for (const pid of runMembers(runId)) {
    if (spare.includes(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* already gone */
    }
  }
  return killed;
}

/** Kill what dead runs in `dir` left running, and remove their files. Never throws. */
export function reapDeadRuns(dir: string): ReapReport {
  const report: ReapReport = { deadRuns: 0, killed: [], reused: [] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return report;
  }
  for (const name of names) {
    const match = FILE.exec(name);
    if (match === null) continue;
    const file = join(dir, name);
    let run: RunFile;
    try {
      run = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
    } catch {
      continue; // being written, or not ours
    }
    if (run.version !== 1 || run.hostPid !== Number(match[1]) || !Array.isArray(run.workers)) continue;
    if (hostAlive(run)) continue;
    for (const { pid, start } of run.workers) {
      if (!Number.isInteger(pid) || pid <= 1) continue;
      const stat = readStat(pid);
      if (stat !== undefined) {
        if (start === null || stat.startTime !== start) {
          report.reused.push(pid);
          continue;
        }
        // The worker itself is still there (an orphan): kill its whole group.
        if (stat.pgid === pid) killGroup(pid, 'SIGKILL');
        else process.kill(pid, 'SIGKILL');
        report.killed.push(pid);
        continue;
      }
      for (const member of runMembers(run.runId, pid)) {
        try {
          process.kill(member, 'SIGKILL');
          report.killed.push(member);
        } catch {
          /* already gone */
        }
      }
    }
    // Grandchildren that left the workers' groups (a session of their own) still carry the run id.
    // Those just killed are spared: a SIGKILLed process can still be listed (and carry the id) until
    // it is reaped, and would be counted twice.
    if (typeof run.runId === 'string' && run.runId !== '') report.killed.push(...killRunProcesses(run.runId, report.killed));
    try {
      unlinkSync(file);
      report.deadRuns++;
    } catch {
      /* another host reaped it first */
    }
  }
  return report;
}
