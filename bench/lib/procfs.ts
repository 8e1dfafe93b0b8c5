/** Memory and descriptor figures read from /proc (Linux), and placing processes on CPUs. */

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Resident set size of a process in bytes, or NaN when it cannot be read. */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Proportional set size of a process in bytes (shared pages divided among their users), or NaN. */
export function pssOf(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(rollup);
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Open file descriptors of this process. */
export function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return NaN;
  }
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** CPU time used so far by all threads of a process, in nanoseconds (from /proc/<pid>/task/<tid>/schedstat). */
export function cpuNsOf(pid: number): number {
  let total = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* the thread ended meanwhile */
      }
    }
  } catch {
    return NaN;
  }
  return total;
}

/**
 * Pin every thread of these processes to `cpu` (null: let them run on every CPU again); false when
 * taskset is missing or refuses.
 */
export function pin(pids: number[], cpu: number | null): boolean {
  const cpus = cpu === null ? `0-${os.availableParallelism() - 1}` : String(cpu);
  try {
    for (const pid of pids) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
