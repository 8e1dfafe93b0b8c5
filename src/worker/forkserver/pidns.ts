/**
 * Host pids of processes in a sandbox's pid namespace. A sandboxed zygote (bubblewrap with
 * `--unshare-pid`) reports the pids of its own namespace; the host signals workers, reads their
 * /proc entries and records them by the pids it sees. The host finds them by walking its /proc from
 * bwrap's pid down (`/proc/<pid>/task/<pid>/children`) and reading each process's `NSpid:` line in
 * /proc/<pid>/status, whose last field is its pid in the innermost namespace. Linux only; every
 * reader returns undefined when /proc cannot tell.
 */

import { readFileSync } from 'node:fs';

/** Children of `pid` (its main thread's: the zygote and bwrap start no threads). */
function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1')
      .trim()
      .split(' ')
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** The `NSpid:` line of /proc/<pid>/status: the pid in each namespace, the host's first, undefined if gone. */
export function nsPids(pid: number): number[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  const line = /^NSpid:\s+(.*)$/m.exec(text)?.[1];
  return line === undefined ? undefined : line.trim().split(/\s+/).map(Number);
}

/** The pid `pid` has in its innermost pid namespace. */
function innerPid(pid: number): number | undefined {
  const all = nsPids(pid);
  return all === undefined || all.length < 2 ? undefined : all[all.length - 1];
}

/**
 * The host pid of the process that is `inner` in the sandbox's pid namespace, searched among the
 * descendants of `root` (bwrap's pid, or the zygote's once known) down to `depth` generations.
 */
export function hostPidOf(root: number, inner: number, depth = 4): number | undefined {
  let level = [root];
  for (let d = 0; d <= depth && level.length > 0; d++) {
    for (const pid of level) {
      if (innerPid(pid) === inner) return pid;
    }
    level = level.flatMap(children);
  }
  return undefined;
}
