/** The orchestrator's handle on one agent process (bench/lib/agent.ts). */

import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { buildSync } from 'esbuild';
import type { Request } from './agent.js';
import { BENCH_DIR, PYTHON } from './env.js';

/**
 * The agent, bundled to plain JavaScript once per run, beside its sources (so that the paths it
 * computes from its own location still hold). Run through tsx instead, every module the contender
 * loads at start goes through tsx's loader hooks, on a thread of their own: that added 10-20 ms to
 * a start (a pool's import of @opentelemetry/api, python-shell's require) and measured the dev
 * loader, not the contender.
 */
let agentFile: string | undefined;
function agentScript(): string {
  if (agentFile === undefined) {
    const outfile = path.join(BENCH_DIR, 'lib', '.agent.mjs');
    buildSync({ entryPoints: [path.join(BENCH_DIR, 'lib', 'agent.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'error' });
    agentFile = outfile;
  }
  return agentFile;
}

export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly ready: Promise<void>;
  private readonly exited: Promise<void>;

  constructor(readonly contender: string) {
    const child: ChildProcess = fork(agentScript(), [contender], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, SNAKEPIT_PYTHON: PYTHON },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    this.ready = new Promise((resolve, reject) => {
      this.pending.set(0, { resolve: () => resolve(), reject });
    });
    child.on('message', (msg: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(`${contender}: ${msg.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${contender}: agent exited (code ${code}, signal ${signal})`));
      this.pending.clear();
    });
  }

  private readonly child: ChildProcess;

  async request<T>(req: Request, timeoutMs = 300_000): Promise<T> {
    await this.ready;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.contender}: ${req.op} took more than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ id, ...req });
    });
  }

  /** Stop the contender's workers and end the agent process. */
  async close(): Promise<void> {
    try {
      await this.request({ op: 'stop' }, 15_000);
    } catch {
      /* the process is ended below in any case */
    }
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Start a Snakepit pool in an agent and close it, so that the library's code cache (src/boot/code-cache.ts)
 * holds what a pool runs, in the file for the agents' options, as after the first pool an installed
 * package runs; what compileBytecode does for Python's bytecode.
 */
export async function warmCodeCache(): Promise<void> {
  const agent = new Agent('snakepit');
  try {
    await agent.request({ op: 'start', workers: 1 });
  } finally {
    await agent.close();
  }
}
