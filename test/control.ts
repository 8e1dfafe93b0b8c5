/** Test support for supervision and chaos tests: fault control folders, /proc scans, host processes. */

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Pool, PoolOptions } from '../src/index.js';
import { ROOT, PYTHON, fixture, startPool } from './helpers.js';

/** A fresh folder for CHAOS_DIR control files (and a state dir), removed by `dispose()`. */
export class ControlDir {
  readonly path = mkdtempSync(path.join(tmpdir(), 'snakepit-ctl-'));
  set(flag: 'fail_import' | 'fail_setup' | 'crash_on_call'): void {
    writeFileSync(path.join(this.path, flag), '');
  }
  clear(flag: 'fail_import' | 'fail_setup' | 'crash_on_call'): void {
    rmSync(path.join(this.path, flag), { force: true });
  }
  /** Tokens executed by the chaos adapter, with how many times each ran. */
  executions(): Map<string, number> {
    const out = new Map<string, number>();
    let text = '';
    try {
      text = readFileSync(path.join(this.path, 'exec.log'), 'utf8');
    } catch {
      return out;
    }
    for (const line of text.split('\n')) {
      const token = line.split(' ')[0];
      if (token) out.set(token, (out.get(token) ?? 0) + 1);
    }
    return out;
  }
  /** Pid of the worker that last recorded `token`, if any. */
  executedBy(token: string): number | undefined {
    let text = '';
    try {
      text = readFileSync(path.join(this.path, 'exec.log'), 'utf8');
    } catch {
      return undefined;
    }
    let pid: number | undefined;
    for (const line of text.split('\n')) {
      const [t, p] = line.split(' ');
      if (t === token) pid = Number(p);
    }
    return pid;
  }
  grandchildren(): number[] {
    return readdirSync(this.path)
      .filter((n) => n.startsWith('grandchild-'))
      .map((n) => Number(n.slice(n.lastIndexOf('-') + 1))); // grandchild-<worker>-<pid>
  }
  sub(name: string): string {
    return path.join(this.path, name);
  }
  dispose(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

function procStat(pid: number): { state: string; pgid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) processes whose environment holds `NAME=value`, except `exclude`. */
export function processesWithEnv(name: string, value: string, exclude: readonly number[] = []): number[] {
  const marker = `${name}=${value}`;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (exclude.includes(pid) || pid === process.pid) continue;
    const stat = procStat(pid);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X') continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker)) out.push(pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Is the process alive and not a zombie? */
export function running(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** A Node host process running test/fixtures/host.ts, talking JSON lines on stdin/stdout. */
export class HostProcess {
  readonly child: ChildProcess;
  readonly marker = randomBytes(8).toString('hex');
  readonly lines: Record<string, unknown>[] = [];
  private waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';

  constructor(config: Record<string, unknown>, nodeArgs: string[] = []) {
    this.child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, 'test', 'fixtures', 'host.ts'), JSON.stringify(config)], {
      cwd: ROOT,
      env: { ...process.env, SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_TEST_MARK: this.marker },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      this.lines.push(msg);
      for (const w of [...this.waiters]) {
        if (w.match(msg)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(msg);
        }
      }
    });
  }

  /** Resolves with the first line (past or future) with `event === name`. */
  waitFor(name: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const seen = this.lines.find((l) => l.event === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`host did not report ${name} within ${timeoutMs} ms; stderr: ${this.stderr}`)),
        timeoutMs,
      );
      this.waiters.push({
        match: (l) => l.event === name,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  send(command: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify(command) + '\n');
  }

  /** Processes started by this host (workers, grandchildren) that are still running. */
  survivors(): number[] {
    return processesWithEnv('SNAKEPIT_TEST_MARK', this.marker, [this.child.pid!]);
  }

  /** Cleanup: SIGKILL the host and whatever it started, each process that is still there. */
  killAll(): void {
    this.child.kill('SIGKILL');
    for (const pid of this.survivors()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone between the scan and the kill (a sandbox taking its processes down, say)
      }
    }
  }

  /** Worker processes (python -m snakepit_bridge) of this host that are running. */
  workers(): number[] {
    return this.survivors().filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('snakepit_bridge');
      } catch {
        return false;
      }
    });
  }
}

/**
 * A host (test/fixtures/host.ts) with `config` whose worker starts a grandchild in a session of its
 * own (the fixture's `spawn_session_child`) is SIGKILLed: every process carrying `NAME=value` in its
 * environment (`marker`) must be gone within 5 s. `atLeast` of them must run before the kill.
 */
export async function assertNothingOutlivesKilledHost(config: Record<string, unknown>, marker: [string, string], atLeast: number): Promise<void> {
  const h = new HostProcess(config);
  const marked = (): number[] => processesWithEnv(marker[0], marker[1]);
  try {
    await h.waitFor('ready');
    h.send({ cmd: 'call', tool: 'spawn_session_child', args: {} });
    await h.waitFor('result');
    assert.ok(marked().length >= atLeast, `${marked().length} marked processes run, expected ${atLeast} or more`);
    h.child.kill('SIGKILL');
    await h.exited;
    const { left } = await untilEmpty(marked, 5_000);
    assert.deepEqual(left, []);
  } finally {
    h.child.kill('SIGKILL');
  }
}

/** Polls until `fn()` returns an empty list or `timeoutMs` passes; returns the last list and the time it took. */
export async function untilEmpty(fn: () => number[], timeoutMs: number): Promise<{ left: number[]; ms: number }> {
  const start = performance.now();
  let left = fn();
  while (left.length > 0 && performance.now() - start < timeoutMs) {
    await new Promise((r) => setTimeout(r, 20));
    left = fn();
  }
  return { left, ms: performance.now() - start };
}

/** Run `fn` with a pool of the chaos fixture steered through a fresh control folder; cleans both up. */
export async function withChaos<T>(extra: Partial<PoolOptions>, fn: (pool: Pool, ctl: ControlDir) => Promise<T>): Promise<T> {
  const ctl = new ControlDir();
  const pool = await startPool({ adapter: fixture('chaos.py'), env: { CHAOS_DIR: ctl.path }, ...extra });
  try {
    return await fn(pool, ctl);
  } finally {
    await pool.destroy();
    ctl.dispose();
  }
}
