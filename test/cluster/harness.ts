/**
 * Real NATS servers and agent processes for the cluster tests: a nats-server on 127.0.0.1 with a free
 * port and JetStream in a temp store, agents as separate `node` processes (optionally inside a network
 * namespace), all stopped afterwards. No mocks of NATS.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, PYTHON } from '../helpers.js';

export const CLUSTER_FIXTURE = path.join(ROOT, 'test', 'cluster', 'fixtures', 'cluster_tools.py');
/** The `snakepit` command's entry; agents run as `snakepit agent ...`. */
export const CLI_MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nats-server did not listen on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ServerOptions {
  host?: string;
  port?: number;
  token?: string;
  user?: string;
  pass?: string;
  tls?: { cert: string; key: string };
  maxPayload?: number;
  /** Reuse a JetStream store (a restarted server keeps its buckets). */
  storeDir?: string;
  /** Run the server in this network namespace. */
  netns?: string;
}

export class NatsServer {
  private proc: ChildProcess | undefined;
  readonly dir: string;
  readonly host: string;
  port = 0;

  constructor(private readonly options: ServerOptions = {}) {
    this.dir = options.storeDir ?? mkdtempSync(path.join(os.tmpdir(), 'snakepit-nats-'));
    this.host = options.host ?? '127.0.0.1';
  }

  get url(): string {
    return `${this.options.tls ? 'tls' : 'nats'}://${this.host}:${this.port}`;
  }

  async start(): Promise<this> {
    const o = this.options;
    this.port = this.port || o.port || (await freePort());
    const lines = [
      `listen: "${this.host}:${this.port}"`,
      `jetstream { store_dir: "${path.join(this.dir, 'js')}" }`,
      `max_payload: ${o.maxPayload ?? 1024 * 1024}`,
    ];
    if (o.token !== undefined) lines.push(`authorization { token: "${o.token}" }`);
    if (o.user !== undefined) lines.push(`authorization { users: [ { user: "${o.user}", password: "${o.pass}" } ] }`);
    if (o.tls !== undefined) lines.push(`tls { cert_file: "${o.tls.cert}", key_file: "${o.tls.key}" }`);
    const conf = path.join(this.dir, 'server.conf');
    writeFileSync(conf, lines.join('\n') + '\n');
    const cmd = o.netns ? ['ip', ['netns', 'exec', o.netns, 'nats-server', '-c', conf]] as const : ['nats-server', ['-c', conf]] as const;
    this.proc = spawn(cmd[0], [...cmd[1]], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    if (o.netns) {
      await new Promise<void>((resolve, reject) => {
        const until = Date.now() + 10_000;
        const check = setInterval(() => {
          if (stderr.includes('Server is ready')) {
            clearInterval(check);
            resolve();
          } else if (Date.now() > until || this.proc?.exitCode !== null) {
            clearInterval(check);
            reject(new Error(`nats-server did not start: ${stderr}`));
          }
        }, 50);
      });
    } else {
      await waitForPort(this.host, this.port, 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${stderr}`);
      });
    }
    return this;
  }

  /** Stop the server (SIGKILL when `hard`), keeping its store for a restart. */
  async stop(hard = false): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop(true);
    if (this.options.storeDir === undefined) rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface AgentProcessOptions {
  url: string;
  pool: string;
  id: string;
  size?: number;
  heartbeat?: number;
  sessionTtl?: number;
  env?: Record<string, string>;
  extra?: string[];
  netns?: string;
}

export class AgentProcess {
  proc: ChildProcess | undefined;
  output = '';
  constructor(readonly options: AgentProcessOptions) {}

  get pid(): number {
    return this.proc!.pid!;
  }

  /** The pid of the agent's node process (inside `ip netns exec`, the child of that). */
  async start(timeoutMs = 20_000): Promise<this> {
    const o = this.options;
    const args = [
      '--import', 'tsx', CLI_MAIN, 'agent',
      '--nats', o.url, '--pool', o.pool, '--id', o.id, '--adapter', CLUSTER_FIXTURE, '--python', PYTHON,
      '--size', String(o.size ?? 1), '--heartbeat', String(o.heartbeat ?? 250),
      ...(o.sessionTtl !== undefined ? ['--session-ttl', String(o.sessionTtl)] : []),
      ...(o.extra ?? []),
    ];
    const [cmd, argv] = o.netns ? ['ip', ['netns', 'exec', o.netns, process.execPath, ...args]] : [process.execPath, args];
    this.proc = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (d: Buffer): void => {
      this.output += d.toString();
    };
    this.proc.stdout!.on('data', onData);
    this.proc.stderr!.on('data', onData);
    const until = Date.now() + timeoutMs;
    while (!this.output.includes('serving pool')) {
      if (this.proc.exitCode !== null || Date.now() > until) throw new Error(`agent ${o.id} did not start: ${this.output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return this;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  }
}

/** Figures of a fault scenario, as in the chaos report. */
export interface Ledger {
  sent: number;
  ok: number;
  failedByCode: Record<string, number>;
  lost: number;
  hung: number;
  untyped: number;
}

export function newLedger(): Ledger {
  return { sent: 0, ok: 0, failedByCode: {}, lost: 0, hung: 0, untyped: 0 };
}

/** Track one call in the ledger; a call still open after `hangMs` counts as hung. */
export async function track(ledger: Ledger, p: Promise<unknown>, hangMs = 30_000): Promise<void> {
  ledger.sent++;
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), hangMs)));
  try {
    const outcome = await Promise.race([p.then(() => 'ok' as const), hung]);
    if (outcome === 'hung') ledger.hung++;
    else ledger.ok++;
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string') ledger.failedByCode[code] = (ledger.failedByCode[code] ?? 0) + 1;
    else ledger.untyped++;
  } finally {
    clearTimeout(timer);
  }
}

export function settledCount(l: Ledger): number {
  return l.ok + Object.values(l.failedByCode).reduce((a, b) => a + b, 0) + l.untyped;
}
