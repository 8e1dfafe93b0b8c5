/**
 * The routing half of a remote pool (remote-pool.ts is its public face): the directory of agents,
 * sending calls to them and taking their replies, stream chunks and host-tool calls, probes after a
 * reconnect, and what happens to calls and sessions when an agent is lost.
 */

import { nodeCrypto } from '../boot/crypto.js';
import { EventEmitter } from 'node:events';
import type { KV, Msg, NatsConnection, Subscription } from 'nats';
import {
  AgentLostError,
  CallTimeoutError,
  ClusterUnavailableError,
  NoAgentsError,
  ProtocolError,
  SnakepitError,
  type ErrorCode,
} from '../errors.js';
import { HostToolRegistry, type HostToolInfo } from '../pool/host-tools.js';
import { Bulk } from './bulk.js';
import type { ResolvedConnectOptions } from './connect-options.js';
import { RemoteHostCalls } from './host-calls.js';
import { isNoResponders, type NatsModule } from './nats.js';
import { decodeRecord, Directory, openBuckets } from './presence.js';
import type { RemoteCall, RemoteCallHost } from './remote-call.js';
import type { RemoteSession } from './remote-session.js';
import type { BasicStats } from './types.js';
import { errorFromWire, K, subjects } from './wire.js';

/** Marks a call that NATS answered with "no responders". */
const NO_RESPONDERS = Symbol('no responders');

/** After a reconnect, "no responders" from an agent is not taken as its loss for this long. */
const RECONNECT_GRACE_MS = 3000;

export interface RemotePoolStats extends BasicStats {
  readonly agents: readonly { id: string; capacity: number; inFlight: number; queued: number; mine: number }[];
  /** Idempotent calls sent again after their agent was lost. */
  readonly retries: number;
  readonly bulkBytesSent: number;
  readonly bulkBytesReceived: number;
}

/** Events of a remote pool. */
export interface RemotePoolEventMap {
  agentJoin: [{ type: 'agentJoin'; agent: string }];
  agentLost: [{ type: 'agentLost'; agent: string; reason: string }];
}
export abstract class RemoteRouter extends EventEmitter<RemotePoolEventMap> implements RemoteCallHost {
  protected readonly hostId = nodeCrypto().randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x');
  protected readonly pending = new Map<number, RemoteCall>();
  protected readonly sessions = new Map<string, RemoteSession>();
  protected readonly registry = new HostToolRegistry();
  protected hostToolList: HostToolInfo[] | null = null;
  protected readonly directory: Directory;
  protected readonly bulk: Bulk;
  protected readonly hostCalls: RemoteHostCalls;
  protected readonly subs: Subscription[] = [];
  protected sweepTimer: NodeJS.Timeout | undefined;
  protected sessionsKv: KV | undefined;
  /** When this host last reconnected to NATS (agents may still be reconnecting for a moment). */
  protected reconnectedAt = 0;
  protected idle: (() => void) | undefined;
  protected counts = { submitted: 0, succeeded: 0, failed: 0, retries: 0 };
  protected readonly failedByCode: Partial<Record<ErrorCode, number>> = {};

  protected constructor(
    readonly options: ResolvedConnectOptions,
    protected readonly nats: NatsModule,
    protected readonly nc: NatsConnection,
  ) {
    super();
    this.directory = new Directory(
      options.staleAfter,
      (id, why) => this.agentLost(id, why),
      (id) => this.emit('agentJoin', { type: 'agentJoin', agent: id }),
    );
    this.bulk = new Bulk(nats, nc, subjects.hostInbox(this.hostId), options.maxPayload);
    this.hostCalls = new RemoteHostCalls(this.registry, this.bulk, this.pending);
  }



  protected async open(): Promise<void> {
    const inbox = subjects.hostInbox(this.hostId);
    this.bulk.listen();
    this.subs.push(this.nc.subscribe(`${inbox}.m`, { callback: (err, msg) => err === null && this.onInbox(msg) }));
    this.subs.push(this.nc.subscribe(`${inbox}.r.>`, { callback: (err, msg) => err === null && this.onCallReply(msg) }));
    this.subs.push(
      this.nc.subscribe(`${inbox}.h`, {
        callback: (err, msg) => err === null && this.hostCalls.handle(msg, (agent) => subjects.agent(this.options.pool, agent)),
      }),
    );
    this.subs.push(
      this.nc.subscribe(subjects.presence(this.options.pool), {
        callback: (err, msg) => {
          const record = err === null ? decodeRecord(msg.data) : undefined;
          if (record !== undefined) this.directory.update(record);
        },
      }),
    );
    await this.nc.flush();
    const { agents, sessions } = await openBuckets(this.nc, this.options.pool, 1000);
    this.sessionsKv = sessions;
    for await (const key of await agents.keys()) {
      const entry = await agents.get(key);
      const record = entry === null || entry.operation !== 'PUT' ? undefined : decodeRecord(entry.value);
      if (record !== undefined) this.directory.update(record);
    }
    const wait = this.options.waitForAgents;
    const until = Date.now() + wait;
    while (this.directory.agents.size === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    this.sweepTimer = setInterval(() => this.directory.sweep(), 100);
    this.sweepTimer.unref();
    void this.followStatus();
  }

  /** After a reconnect: give agents a fresh heartbeat period, and ask them which calls they still run. */
  protected async followStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') {
        this.directory.paused = true;
      } else if (s.type === 'reconnect') {
        this.directory.refresh();
        this.directory.paused = false;
        this.reconnectedAt = Date.now();
        void this.probe();
      }
    }
  }

  protected async probe(): Promise<void> {
    const byAgent = new Map<string, number[]>();
    for (const call of this.pending.values()) {
      if (call.agent !== undefined) byAgent.set(call.agent, [...(byAgent.get(call.agent) ?? []), call.id]);
    }
    await Promise.all([...byAgent].map(([agent, ids]) => this.probeAgent(agent, ids)));
  }

  /** Ask an agent which of these calls it still runs; those it does not know lost their replies. */
  protected async probeAgent(agent: string, ids: number[]): Promise<void> {
    const data = this.bulk.sendable('', [K.PROBE, this.hostId, ids]) as Uint8Array;
    // The agent may reconnect after this host: ask again for a while.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const reply = await this.nc.request(`${subjects.agent(this.options.pool, agent)}.ctl`, data, { timeout: 1000 });
        const alive = new Set(this.bulk.inbound(reply.data)[1] as number[]);
        // The agent answers after any reply it sent before; give those a moment to be handled.
        await new Promise((r) => setTimeout(r, 50));
        for (const id of ids) {
          const call = this.pending.get(id);
          if (call !== undefined && call.agent === agent && !alive.has(id)) {
            this.lose(call, agent, 'its reply was lost while the connection to NATS was down');
          }
        }
        return;
      } catch {
        if (this.closed) return;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }


  /** Send a call to an agent: the session's, or the one with the most free capacity. */
  protected dispatch(call: RemoteCall, session: RemoteSession | undefined): void {
    if (call.settled) return;
    let agent: string | undefined;
    if (session !== undefined && session.lookup && session.agent === undefined) {
      void this.findSession(session).then(() => this.dispatch(call, undefined), (err: unknown) => call.fail(err as SnakepitError));
      return;
    }
    const sess = session ?? (call.sessionId === null ? undefined : this.sessions.get(call.sessionId));
    if (sess?.agent !== undefined) {
      agent = sess.agent;
      if (!this.directory.agents.has(agent)) {
        call.fail(sess.markLost(`session ${sess.id}'s agent ${agent} is gone; its state is lost`));
        return;
      }
    } else {
      agent = this.directory.pick(call.tried)?.record.id;
      if (agent === undefined) {
        const known = this.directory.agents.size;
        call.fail(new NoAgentsError(this.options.pool, known === 0
          ? `no agent serves pool ${this.options.pool}; the call to ${call.tool} was not run`
          : `no other agent of pool ${this.options.pool} could take the call to ${call.tool}`, { tool: call.tool, requestId: call.id }));
        return;
      }
      if (sess !== undefined) sess.agent = agent;
    }
    call.agent = agent;
    call.tried.add(agent);
    const known = this.directory.agents.get(agent)!;
    known.mine++;
    const prefix = subjects.agent(this.options.pool, agent);
    let out: Uint8Array | Promise<Uint8Array>;
    try {
      out = this.bulk.sendable(prefix, [call.kind, call.id, this.hostId, call.tool, call.args, call.remainingMs(), call.sessionId,
        call.window, call.flags, this.hostToolsOnCall()]);
    } catch (err) {
      call.fail(err as SnakepitError);
      return;
    }
    call.attempt++;
    const reply = `${subjects.hostInbox(this.hostId)}.r.${call.id}.${call.attempt}`;
    const send = (data: Uint8Array): void => {
      if (!call.settled) this.nc.publish(`${prefix}.call`, data, { reply });
    };
    if (out instanceof Uint8Array) send(out);
    else out.then(send, (err: unknown) => this.onRequestFailed(call, agent, err));
  }

  /**
   * Replies to calls arrive on one subscription (`_SNK.<host>.r.<call>.<attempt>`): no timer or
   * subscription per request. A reply of an earlier attempt (before a retry) is ignored. NATS itself
   * answers "no responders" (status 503) on the same subject when nobody listens on the agent's.
   */
  protected onCallReply(msg: Msg): void {
    const parts = msg.subject.split('.');
    const call = this.pending.get(Number(parts[3]));
    if (call === undefined || call.settled || call.attempt !== Number(parts[4]) || call.agent === undefined) return;
    if (msg.headers?.code === 503) {
      this.onRequestFailed(call, call.agent, NO_RESPONDERS);
      return;
    }
    this.onReply(call, call.agent, msg);
  }

  protected async findSession(session: RemoteSession): Promise<void> {
    const entry = await this.sessionsKv!.get(subjects.sessionKey(session.id)).catch(() => null);
    if (entry === null || entry.operation !== 'PUT') {
      session.agent = this.directory.pick()?.record.id;
      if (session.agent === undefined) throw new NoAgentsError(this.options.pool, `no agent serves pool ${this.options.pool}`);
      return;
    }
    const agent = (JSON.parse(new TextDecoder().decode(entry.value)) as { agent: string }).agent;
    session.agent = agent;
    if (!this.directory.agents.has(agent)) throw session.markLost(`session ${session.id}'s agent ${agent} is gone; its state is lost`);
  }

  protected hostToolsOnCall(): HostToolInfo[] | null {
    if (this.registry.size === 0) return null;
    this.hostToolList ??= this.registry.list();
    return this.hostToolList;
  }

  protected onReply(call: RemoteCall, agent: string, reply: Msg): void {
    if (call.settled || call.agent !== agent) return;
    let m: unknown[];
    try {
      m = this.bulk.inbound(reply.data);
    } catch (err) {
      call.fail(err instanceof SnakepitError ? err : new ProtocolError(String(err)));
      return;
    }
    if (m[0] === K.OK) call.succeed(m[1]);
    else if (m[0] === K.ERR) this.failFromAgent(call, m[1]);
  }

  protected failFromAgent(call: RemoteCall, wire: unknown): void {
    const error = errorFromWire(wire, { requestId: call.id });
    if (error.code === 'SESSION_LOST' && call.sessionId !== null) this.sessions.get(call.sessionId)?.markLost(error.message, 'worker-exit');
    call.fail(error);
  }

  protected onRequestFailed(call: RemoteCall, agent: string, err: unknown): void {
    if (call.settled || call.agent !== agent) return;
    if (err === NO_RESPONDERS || isNoResponders(this.nats, err)) {
      // Nobody listens on the agent's subject, so this call never reached it (safe to send again).
      if (Date.now() - this.reconnectedAt < RECONNECT_GRACE_MS) {
        // Just after a reconnect the agent may not have resubscribed yet: try it again shortly.
        this.undispatch(call);
        call.tried.delete(agent);
        setTimeout(() => this.dispatch(call, undefined), 100);
        return;
      }
      // A draining agent no longer takes calls; otherwise the agent is gone.
      if (this.directory.agents.get(agent)?.record.draining === true) {
        if (call.sessionId !== null) {
          this.lose(call, agent, 'it is closing');
        } else {
          this.undispatch(call);
          this.dispatch(call, undefined);
        }
        return;
      }
      if (this.directory.agents.delete(agent)) this.agentLost(agent, 'NATS found no responders on its subjects');
      if (!call.settled) {
        if (call.sessionId !== null) this.lose(call, agent, 'no responders');
        else this.dispatch(call, undefined);
      }
      return;
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (code === this.nats.ErrorCode.Timeout) call.fail(new CallTimeoutError(call.tool, call.timeoutMs, { requestId: call.id }));
    else call.fail(err instanceof SnakepitError ? err : new ClusterUnavailableError(`request to agent ${agent} failed: ${String(err)}`, { cause: err }));
  }

  /** Stream chunks, ends and errors from agents. */
  protected onInbox(msg: Msg): void {
    let m: unknown[];
    try {
      m = this.bulk.inbound(msg.data);
    } catch {
      return;
    }
    const call = this.pending.get(m[1] as number);
    if (call === undefined) return;
    if (m[0] === K.CHUNK) call.chunk(m[2]);
    else if (m[0] === K.END) call.end();
    else if (m[0] === K.ERR) this.failFromAgent(call, m[2]);
  }

  // ----------------------------------------------------------------- RemoteCallHost

  cancelRemote(call: RemoteCall): void {
    this.control(call, [K.CANCEL, this.hostId, call.id]);
  }

  credit(call: RemoteCall, n: number): void {
    this.control(call, [K.CREDIT, this.hostId, call.id, n]);
  }

  protected control(call: RemoteCall, message: unknown[]): void {
    if (call.agent === undefined || this.nc.isClosed()) return;
    this.nc.publish(`${subjects.agent(this.options.pool, call.agent)}.ctl`, this.bulk.sendable('', message) as Uint8Array);
  }

  settled(call: RemoteCall, error: SnakepitError | undefined): void {
    this.pending.delete(call.id);
    this.hostCalls.settled(call.id);
    if (call.agent !== undefined) {
      const known = this.directory.agents.get(call.agent);
      if (known !== undefined) known.mine--;
    }
    if (error === undefined) this.counts.succeeded++;
    else this.record(error);
    if (this.pending.size === 0 && this.idle !== undefined) this.idle();
  }

  protected record(error: SnakepitError): void {
    this.counts.failed++;
    this.failedByCode[error.code] = (this.failedByCode[error.code] ?? 0) + 1;
  }

  // ----------------------------------------------------------------- agents lost

  protected agentLost(agent: string, why: string): void {
    this.emit('agentLost', { type: 'agentLost', agent, reason: why });
    for (const s of this.sessions.values()) {
      if (s.agent === agent) s.markLost(`session ${s.id}'s agent ${agent} was lost (${why}); its state is gone`);
    }
    for (const call of [...this.pending.values()]) {
      if (call.agent === agent && !call.settled) this.lose(call, agent, why);
    }
  }

  /** Take a call back from its agent before sending it again. */
  protected undispatch(call: RemoteCall): void {
    const known = call.agent === undefined ? undefined : this.directory.agents.get(call.agent);
    if (known !== undefined) known.mine--;
    call.agent = undefined;
  }

  /** The call's agent is gone: at most once, so only idempotent calls go elsewhere. */
  protected lose(call: RemoteCall, agent: string, why: string): void {
    if (call.sessionId !== null) {
      const s = this.sessions.get(call.sessionId);
      call.fail(s?.markLost(`session ${call.sessionId}'s agent ${agent} was lost (${why})`) ??
        new AgentLostError(agent, `agent ${agent} was lost (${why})`, { tool: call.tool, requestId: call.id }));
      return;
    }
    if (call.idempotent && call.chunks === 0 && call.tried.size <= this.options.retries) {
      this.counts.retries++;
      this.undispatch(call);
      this.dispatch(call, undefined);
      return;
    }
    call.fail(new AgentLostError(agent, `agent ${agent} was lost (${why}) while the call to ${call.tool} was in flight; it may have run`, {
      tool: call.tool,
      requestId: call.id,
    }));
  }

  /** The pool is closed: probes stop. */
  protected abstract get closed(): boolean;
}
