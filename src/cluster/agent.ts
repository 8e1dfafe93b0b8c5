/**
 * An agent: a local Pool (supervision, lifeline, recycling and sandbox stay on the machine that runs
 * the processes) served on NATS subjects `snakepit.<pool>.<agent>.{call,ctl,p.*}`. It announces
 * itself and its load every heartbeat (presence.ts), keeps the sessions it holds in the sessions
 * bucket, forwards Python's host-tool calls to the host that made the call, and streams chunks to the
 * host within the host's credit. See docs/cluster.md.
 */

import { hostname } from 'node:os';
import type { KV, Msg, NatsConnection, Subscription } from 'nats';
import { InvalidOptionsError, type SnakepitError } from '../errors.js';
import { FactoryOnly } from '../factory-only.js';
import type { PoolOptions } from '../options.js';
import { currentHostCall } from '../pool/host-tools.js';
import type { HostToolContext, HostToolInfo } from '../pool/host-tools.js';
import { Pool } from '../pool/pool.js';
import type { Session } from '../pool/session.js';
import { Bulk } from './bulk.js';
import { Controllers } from './controllers.js';
import { checkNatsOptions, closeConnection, connectNats, type NatsModule } from './nats.js';
import { encodeRecord, openBuckets, type AgentRecord } from './presence.js';
import { ReplyBatch } from './reply-batch.js';
import type { CallStream, NatsConnectOptions } from './types.js';
import { checkName, errorToWire, FLAG_COLLECT, FLAG_IDEMPOTENT, K, subjects } from './wire.js';

export interface AgentOptions {
  nats: NatsConnectOptions;
  /** The pool this agent serves (hosts connect with the same name). */
  pool: string;
  /** This agent's name; default `<hostname>-<pid>`. */
  id?: string;
  /** Ms between presence records. Default 1000. */
  heartbeat?: number;
  /** Ms a session may sit idle (its host may have died) before it is closed here. Default 600000. */
  sessionTtl?: number;
  /** The local pool's options. */
  poolOptions: PoolOptions;
}

interface Running {
  readonly id: number;
  readonly host: string;
  readonly ac: AbortController;
  stream?: CallStream;
  credit: number;
  wake?: () => void;
  cancelled: boolean;
}

interface HeldSession {
  readonly session: Session;
  readonly host: string;
  last: number;
  active: number;
}

const factory = new FactoryOnly(() => new InvalidOptionsError('an Agent is made by `await Agent.start(options)`, not by `new Agent()`'));

export class Agent {
  private readonly calls = new Map<string, Running>();
  /** Results and errors of calls, gathered while other calls run here (reply-batch.ts). */
  private readonly replies = new ReplyBatch(() => this.calls.size > 0);
  private readonly owners = new WeakMap<object, Running>();
  private readonly controllers = new Controllers();
  private readonly proxies = new Set<string>();
  private readonly sessions = new Map<string, HeldSession>();
  private readonly subs: Subscription[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private draining = false;
  private bulk!: Bulk;
  private agentsKv!: KV;
  private sessionsKv!: KV;

  private constructor(
    readonly id: string,
    readonly poolName: string,
    readonly pool: Pool,
    private readonly nats: NatsModule,
    private readonly nc: NatsConnection,
    private readonly heartbeat: number,
    private readonly sessionTtl: number,
  ) {
    factory.admit();
  }

  /** Start the local pool, connect, announce, and serve. */
  static async start(options: AgentOptions): Promise<Agent> {
    const nats = checkNatsOptions(options?.nats, 'agent options.nats');
    const nameProblem = checkName('agent options.pool', options.pool);
    if (nameProblem !== undefined) throw new InvalidOptionsError(nameProblem);
    const id = options.id ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
    const idProblem = checkName('agent options.id', id);
    if (idProblem !== undefined) throw new InvalidOptionsError(idProblem);
    const heartbeat = options.heartbeat ?? 1000;
    const sessionTtl = options.sessionTtl ?? 600_000;
    for (const [key, v] of [['heartbeat', heartbeat], ['sessionTtl', sessionTtl]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new InvalidOptionsError(`agent options.${key} must be a positive integer (ms)`);
    }
    const pool = await Pool.start(options.poolOptions);
    try {
      const { nats: mod, nc } = await connectNats(nats, `snakepit-agent-${id}`);
      const agent = factory.make(() => new Agent(id, options.pool, pool, mod, nc, heartbeat, sessionTtl));
      await agent.serve(Math.max(pool.options.maxPayload, 1));
      return agent;
    } catch (err) {
      await pool.destroy();
      throw err;
    }
  }

  private get prefix(): string {
    return subjects.agent(this.poolName, this.id);
  }

  private async serve(maxPayload: number): Promise<void> {
    const { agents, sessions } = await openBuckets(this.nc, this.poolName, this.heartbeat);
    this.agentsKv = agents;
    this.sessionsKv = sessions;
    this.bulk = new Bulk(this.nats, this.nc, this.prefix, maxPayload);
    this.bulk.listen();
    this.subs.push(this.nc.subscribe(`${this.prefix}.call`, { callback: (err, msg) => err === null && this.onCall(msg) }));
    this.subs.push(this.nc.subscribe(`${this.prefix}.ctl`, { callback: (err, msg) => err === null && this.onControl(msg) }));
    await this.nc.flush();
    await this.announce(true);
    this.heartbeatTimer = setInterval(() => void this.announce(true).catch(() => {}), this.heartbeat);
    this.sweepTimer = setInterval(() => this.sweepSessions(), Math.min(this.sessionTtl / 2, 5000));
  }

  private record(up: boolean): AgentRecord {
    const s = this.pool.stats();
    return {
      id: this.id,
      capacity: s.size * this.pool.options.concurrency,
      inFlight: s.inFlight,
      queued: s.queued,
      heartbeat: this.heartbeat,
      tools: up ? this.pool.tools() : [],
      up,
      draining: this.draining,
    };
  }

  private async announce(up: boolean): Promise<void> {
    const data = encodeRecord(this.record(up));
    this.nc.publish(subjects.presence(this.poolName), data);
    if (up) await this.agentsKv.put(this.id, data);
    else await this.agentsKv.delete(this.id);
  }

  // ----------------------------------------------------------------- calls

  private onCall(msg: Msg): void {
    let m: unknown[];
    try {
      m = this.bulk.inbound(msg.data);
    } catch (err) {
      msg.respond(this.bulkless([K.ERR, errorToWire(err)]));
      return;
    }
    const [kind, id, host, tool, rawArgs, timeout, sid, window, flags, hostTools] = m as [
      number, number, string, string, unknown, number, string | null, number, number, HostToolInfo[] | null,
    ];
    // A final reply may wait for others (reply-batch.ts); a stream's ACK goes at once (`now`).
    const reply = (message: unknown[], now = false): void => {
      const out = this.bulk.sendable(subjects.hostInbox(host), message);
      if (!(out instanceof Uint8Array)) out.then((d) => msg.respond(d), (err: unknown) => msg.respond(this.bulkless([K.ERR, errorToWire(err)])));
      else if (now) msg.respond(out);
      else this.replies.respond(msg, out);
    };
    if (kind === K.SESSION_CLOSE) {
      void this.closeSession(sid ?? '').then(() => reply([K.OK, null]));
      return;
    }
    if (hostTools !== null) this.ensureProxies(hostTools);
    const running: Running = { id, host, ac: this.controllers.take(), credit: window, cancelled: false };
    const key = `${host}/${id}`;
    this.calls.set(key, running);
    const args = (rawArgs ?? {}) as Record<string, unknown>;
    this.owners.set(args, running);
    const opts = { timeout, signal: running.ac.signal, idempotent: (flags & FLAG_IDEMPOTENT) !== 0 };
    let held: HeldSession | undefined;
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      this.calls.delete(key);
      this.controllers.give(running.ac);
      if (held !== undefined) {
        held.active--;
        held.last = Date.now();
      }
    };
    try {
      held = sid === null ? undefined : this.holdSession(sid, host);
      const target = held?.session ?? this.pool;
      if (kind === K.STREAM) {
        running.stream = target.stream(tool, args, { ...opts, window });
        reply([K.ACK], true);
        void this.pumpStream(running, done);
        return;
      }
      const result =
        kind === K.PYCALL
          ? this.pool.python.call(tool, (args.args as unknown[]) ?? [], { timeout, signal: running.ac.signal, kwargs: args.kwargs as Record<string, unknown> })
          : target.execute(tool, args, (flags & FLAG_COLLECT) !== 0 ? { ...opts, collect: true } : opts);
      result.then(
        (value) => {
          done();
          reply([K.OK, value]);
        },
        (err: unknown) => {
          done();
          if ((err as SnakepitError).code === 'SESSION_LOST' && sid !== null) void this.closeSession(sid);
          reply([K.ERR, errorToWire(err)]);
        },
      );
    } catch (err) {
      done();
      reply([K.ERR, errorToWire(err)]);
    }
  }

  /** Forward a stream's chunks to its host, never more than the host's credit ahead. */
  private async pumpStream(running: Running, done: () => void): Promise<void> {
    const inbox = `${subjects.hostInbox(running.host)}.m`;
    const send = async (message: unknown[]): Promise<void> => {
      const out = this.bulk.sendable(subjects.hostInbox(running.host), message);
      this.nc.publish(inbox, out instanceof Uint8Array ? out : await out);
    };
    try {
      for await (const chunk of running.stream!) {
        while (running.credit <= 0 && !running.cancelled) await new Promise<void>((r) => (running.wake = r));
        if (running.cancelled) break;
        running.credit--;
        await send([K.CHUNK, running.id, chunk]);
      }
      if (!running.cancelled) await send([K.END, running.id]);
    } catch (err) {
      if (!running.cancelled) await send([K.ERR, running.id, errorToWire(err)]).catch(() => {});
    } finally {
      done();
    }
  }

  private onControl(msg: Msg): void {
    let m: unknown[];
    try {
      m = this.bulk.inbound(msg.data);
    } catch {
      return;
    }
    const host = m[1] as string;
    if (m[0] === K.PROBE) {
      const alive = (m[2] as number[]).filter((id) => this.calls.has(`${host}/${id}`));
      msg.respond(this.bulkless([K.OK, alive]));
      return;
    }
    const running = this.calls.get(`${host}/${String(m[2])}`);
    if (running === undefined) return;
    if (m[0] === K.CREDIT) {
      running.credit += m[3] as number;
    } else if (m[0] === K.CANCEL) {
      running.cancelled = true;
      running.stream?.cancel();
      running.ac.abort(new Error('cancelled by the host'));
    }
    const wake = running.wake;
    running.wake = undefined;
    wake?.();
  }

  private bulkless(message: unknown[]): Uint8Array {
    const out = this.bulk.sendable('', message);
    return out instanceof Uint8Array ? out : new Uint8Array(0);
  }

  // ----------------------------------------------------------------- host tools

  /** Register, on the local pool, a forwarding tool for each host tool name a host announced. */
  private ensureProxies(tools: readonly HostToolInfo[]): void {
    for (const t of tools) {
      if (this.proxies.has(t.name)) continue;
      this.proxies.add(t.name);
      this.pool.registerTool(t.name, (args, ctx) => this.forwardHostCall(t.name, args, ctx), {
        description: t.description,
        parameters: t.parameters as Record<string, unknown>,
      });
    }
  }

  private forwardHostCall(name: string, args: Record<string, unknown>, ctx: HostToolContext): Promise<unknown> {
    // Read synchronously: the calling call is known only at the start of the tool.
    const parent = currentHostCall();
    const running = parent === undefined ? undefined : this.owners.get(parent.args);
    if (running === undefined) return Promise.reject(new Error(`host tool ${name} was called outside a remote call`));
    const inbox = subjects.hostInbox(running.host);
    return (async () => {
      const data = await this.bulk.prepare(inbox, [K.HOST_CALL, running.id, name, args]);
      const reply = await this.nc.request(`${inbox}.h`, data, { timeout: ctx.timeout ?? 600_000 });
      const m = this.bulk.inbound(reply.data);
      if (m[0] === K.OK) return m[1];
      const [code, message] = m[1] as [string, string];
      throw Object.assign(new Error(String(message)), { code: String(code) });
    })();
  }

  // ----------------------------------------------------------------- sessions

  private holdSession(sid: string, host: string): HeldSession {
    let held = this.sessions.get(sid);
    if (held === undefined) {
      held = { session: this.pool.session(sid), host, last: Date.now(), active: 0 };
      this.sessions.set(sid, held);
      const record = JSON.stringify({ agent: this.id, host, at: Date.now() });
      void this.sessionsKv.put(subjects.sessionKey(sid), new TextEncoder().encode(record)).catch(() => {});
    }
    held.active++;
    held.last = Date.now();
    return held;
  }

  private async closeSession(sid: string): Promise<void> {
    const held = this.sessions.get(sid);
    if (held === undefined) return;
    this.sessions.delete(sid);
    await this.sessionsKv.delete(subjects.sessionKey(sid)).catch(() => {});
    await held.session.close();
  }

  /** Sessions idle past `sessionTtl` (their host may be gone) are closed here. */
  private sweepSessions(): void {
    const now = Date.now();
    for (const [sid, held] of this.sessions) {
      if (held.active === 0 && now - held.last > this.sessionTtl) void this.closeSession(sid);
    }
  }

  /** Sessions held here now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  // ----------------------------------------------------------------- lifecycle

  /**
   * Stop taking calls (hosts see the agent draining and send nothing new), let running calls
   * finish while still announcing, then stop the local pool and leave.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.draining = true;
      await this.announce(true).catch(() => {});
      this.subs[0]?.unsubscribe(); // calls; control messages (cancel, credit) still arrive
      while (this.calls.size > 0) await new Promise((r) => setTimeout(r, 20));
      this.replies.flush();
      clearInterval(this.heartbeatTimer);
      clearInterval(this.sweepTimer);
      for (const sub of this.subs) sub.unsubscribe();
      await this.announce(false).catch(() => {});
      await Promise.all([...this.sessions.keys()].map((sid) => this.closeSession(sid)));
      await this.pool.close();
      this.bulk.close();
      await closeConnection(this.nc);
    })();
    return this.closing;
  }
}
