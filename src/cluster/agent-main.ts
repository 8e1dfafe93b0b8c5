/**
 * `snakepit agent`: run an agent as a process. `agentCommand(argv)` parses its own arguments (so the
 * CLI dispatcher adds it with one line) and resolves with the exit code once the agent has stopped
 * (SIGTERM or SIGINT: graceful close; a second signal: exit at once).
 *
 *   snakepit agent --nats nats://127.0.0.1:4222 --pool gpu --adapter tools.py --size 4
 */

import { readFileSync } from 'node:fs';
import { SnakepitError } from '../errors.js';
import type { PoolOptions } from '../options.js';
import { Agent } from './agent.js';
import type { NatsConnectOptions } from './types.js';

export const AGENT_HELP = `usage: snakepit agent --nats <url>[,<url>...] --pool <name> --adapter <file.py|module> [options]

Serve a local pool of Python workers to hosts that use Pool.connect({ nats, pool }).

  --nats <urls>          NATS server URL(s), comma-separated (nats://host:4222, tls://host:4222)
  --pool <name>          pool name (letters, digits, - and _)
  --adapter <spec>       adapter: ./tools.py, ./tools.py:Class, or package.module
  --size <n>             worker processes (default: the local pool's default)
  --concurrency <n>      calls in flight per worker (default 1)
  --start-method <m>     spawn (default) or forkserver: workers forked from one zygote (docs/forkserver.md)
  --preload <modules>    comma-separated modules the zygote imports once (with --start-method forkserver)
  --min-ready <n>        workers that must be ready before the agent joins (default: all)
  --id <name>            agent name (default <hostname>-<pid>)
  --heartbeat <ms>       presence period (default 1000)
  --session-ttl <ms>     idle time after which a session is closed here (default 600000)
  --python <path>        Python executable
  --allow <names>        comma-separated dotted names pool.python.call may reach
  --token <t> | --user <u> --pass <p> | --nkey-seed-file <path>    NATS authentication
  --tls-ca <file> [--tls-cert <file> --tls-key <file>]             TLS to the NATS server
  --help                 this text

Environment: SNAKEPIT_NATS_TOKEN, SNAKEPIT_NATS_PASS stand in for --token and --pass.`;

export interface ParsedAgentArgs {
  help: boolean;
  options?: { nats: NatsConnectOptions; pool: string; id?: string; heartbeat?: number; sessionTtl?: number; poolOptions: PoolOptions };
}

const VALUE_FLAGS = new Set([
  'nats', 'pool', 'adapter', 'size', 'concurrency', 'start-method', 'preload', 'min-ready', 'id', 'heartbeat', 'session-ttl',
  'python', 'allow',
  'token', 'user', 'pass', 'nkey-seed-file', 'tls-ca', 'tls-cert', 'tls-key',
]);

class UsageError extends Error {}

function int(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Parse `snakepit agent` arguments; throws UsageError naming the problem. */
export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedAgentArgs {
  const v = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!VALUE_FLAGS.has(flag)) throw new UsageError(`unknown option --${flag}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${flag} needs a value`);
    v.set(flag, value);
  }
  for (const required of ['nats', 'pool', 'adapter']) {
    if (!v.has(required)) throw new UsageError(`--${required} is required`);
  }
  const nats: NatsConnectOptions = { servers: v.get('nats')!.split(',').filter(Boolean) };
  const token = v.get('token') ?? env.SNAKEPIT_NATS_TOKEN;
  if (token !== undefined) nats.token = token;
  if (v.has('user')) {
    nats.user = v.get('user')!;
    nats.pass = v.get('pass') ?? env.SNAKEPIT_NATS_PASS ?? '';
  }
  if (v.has('nkey-seed-file')) nats.nkeySeed = readFileSync(v.get('nkey-seed-file')!, 'utf8').trim();
  if (v.has('tls-ca') || v.has('tls-cert')) {
    nats.tls = {};
    if (v.has('tls-ca')) nats.tls.caFile = v.get('tls-ca')!;
    if (v.has('tls-cert')) nats.tls.certFile = v.get('tls-cert')!;
    if (v.has('tls-key')) nats.tls.keyFile = v.get('tls-key')!;
  }
  const poolOptions: PoolOptions = { adapter: v.get('adapter')! };
  if (v.has('size')) poolOptions.size = int('size', v.get('size')!);
  if (v.has('concurrency')) poolOptions.concurrency = int('concurrency', v.get('concurrency')!);
  if (v.has('start-method')) {
    const method = v.get('start-method')!;
    if (method !== 'spawn' && method !== 'forkserver') throw new UsageError(`--start-method must be spawn or forkserver, got ${JSON.stringify(method)}`);
    poolOptions.startMethod = method;
  }
  if (v.has('preload')) poolOptions.preload = v.get('preload')!.split(',').filter(Boolean);
  if (v.has('min-ready')) poolOptions.minReady = int('min-ready', v.get('min-ready')!);
  if (v.has('python')) poolOptions.python = v.get('python')!;
  if (v.has('allow')) poolOptions.allow = v.get('allow')!.split(',').filter(Boolean);
  const options: NonNullable<ParsedAgentArgs['options']> = { nats, pool: v.get('pool')!, poolOptions };
  if (v.has('id')) options.id = v.get('id')!;
  if (v.has('heartbeat')) options.heartbeat = int('heartbeat', v.get('heartbeat')!);
  if (v.has('session-ttl')) options.sessionTtl = int('session-ttl', v.get('session-ttl')!);
  return { help: false, options };
}

/** Run an agent until SIGTERM/SIGINT; resolves with the process exit code. */
export async function agentCommand(argv: readonly string[]): Promise<number> {
  let parsed: ParsedAgentArgs;
  try {
    parsed = parseAgentArgs(argv);
  } catch (err) {
    process.stderr.write(`snakepit agent: ${(err as Error).message}\n\n${AGENT_HELP}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${AGENT_HELP}\n`);
    return 0;
  }
  let agent: Agent;
  try {
    agent = await Agent.start(parsed.options!);
  } catch (err) {
    const code = err instanceof SnakepitError ? `${err.code} ` : '';
    process.stderr.write(`snakepit agent: ${code}${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`snakepit agent ${agent.id} serving pool ${agent.poolName}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) process.exit(130);
      stopping = true;
      agent.close().then(() => resolve(0), () => resolve(1));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
