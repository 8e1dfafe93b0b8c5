/**
 * What Linux's /proc says about a process: its start time (to tell a pid from a reused one), its
 * process group, and its resident set size. Every reader returns undefined where /proc is missing or
 * the process is gone, so callers work (with less information) on other systems.
 */

import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** One-letter state: R, S, D, Z (zombie), T (stopped), ... */
  state: string;
  ppid: number;
  pgid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks since boot when the process started. */
  startTime: number;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses. */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  // Fields after the command name start at field 3 (state).
  const fields = text.slice(close + 2).split(' ');
  const startTime = Number(fields[22 - 3]);
  if (!Number.isFinite(startTime)) return undefined;
  return {
    state: fields[0] ?? '?',
    ppid: Number(fields[4 - 3]),
    pgid: Number(fields[5 - 3]),
    startTime,
  };
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/** The process's start time (field 22 of /proc/<pid>/stat), or undefined if there is no such process. */
export function processStartTime(pid: number): number | undefined {
  return readStat(pid)?.startTime;
}

/**
 * The process a sandboxed worker's pid stands for: the host spawns bwrap, which runs an init, which
 * runs the worker (src/security/sandbox.ts). Follows first children while the process is bwrap.
 */
function unwrapSandbox(pid: number): number {
  for (let depth = 0; depth < 3; depth++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'latin1').trim() !== 'bwrap') return pid;
      const child = Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ')[0]);
      if (!Number.isInteger(child) || child <= 0) return pid;
      pid = child;
    } catch {
      return pid;
    }
  }
  return pid;
}

/** Resident set size in bytes from /proc/<pid>/status (VmRSS) of the worker (inside its sandbox), or undefined. */
export function readRss(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${unwrapSandbox(pid)}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** True when a process with this pid exists and has not exited (a zombie counts as exited). */
export function processAlive(pid: number): boolean {
  const stat = readStat(pid);
  if (stat !== undefined) return stat.state !== 'Z' && stat.state !== 'X';
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
