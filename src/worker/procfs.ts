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
export function unwrapSandbox(pid: number): number {
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

/**
 * Memory of a process from /proc/<pid>/smaps_rollup, in bytes: `uss` (its own pages: Private_Clean +
 * Private_Dirty) and `pss` (proportional set size: shared pages divided among their sharers).
 * Undefined where the file is missing. A worker forked from the zygote shares most of its pages, so
 * its RSS says little; its USS is what replacing it would free.
 */
export function readSmapsRollup(pid: number): { uss: number; pss: number; rss: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { uss: field('Private_Clean') + field('Private_Dirty'), pss: field('Pss'), rss: field('Rss') };
}
