/**
 * A remote pool: `Pool.connect({ nats, pool })`. Same surface as a local Pool (PoolLike); calls go to
 * the agents serving the pool, chosen by free capacity; sessions are pinned to one agent; an agent
 * lost mid-call fails the call with AGENT_LOST (retried on another agent only when idempotent).
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { KV, Msg, NatsConnection, Subscription } from 'nats';
import {
  AgentLostError,
  CallAbortedError,
  CallTimeoutError,
  ClusterUnavailableError,
  InvalidArgumentsError,
  NoAgentsError,
  PoolClosedError,
  ProtocolError,
  SnakepitError,
  type ErrorCode,
} from '../errors.js';
import { checkCallOptions, checkPythonCallOptions, checkSessionOptions, type ExecuteOptions, type HostToolOptions, type PythonCallOptions, type SessionOptions, type StreamOptions } from '../options.js';
import { HostToolRegistry, type HostToolFn, type HostToolInfo } from '../pool/host-tools.js';
import type { ToolStream } from '../pool/stream.js';
import type { ToolInfo } from '../pool/tools.js';
import { Bulk } from './bulk.js';
import { RemoteHostCalls } from './host-calls.js';
import { checkNatsOptions, closeConnection, connectNats, isNoResponders, type NatsModule } from './nats.js';
import { decodeRecord, Directory, openBuckets } from './presence.js';
import { RemoteCall, type CallKind, type RemoteCallHost } from './remote-call.js';
import { RemoteSession, type RemoteSessionHost } from './remote-session.js';
import { checkConnectOptions, type ResolvedConnectOptions } from './connect-options.js';
import type { BasicStats, ConnectOptions, PoolLike, PythonCaller } from './types.js';
import { errorFromWire, FLAG_COLLECT, FLAG_IDEMPOTENT, K, subjects } from './wire.js';

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

export class RemotePool extends EventEmitter<RemotePoolEventMap> implements PoolLike, RemoteCallHost, RemoteSessionHost {
  #state: 'ready' | 'draining' | 'closed' = 'ready';
  private readonly hostId = randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x');
  private readonly pending = new Map<number, RemoteCall>();
  private readonly sessions = new Map<string, RemoteSession>();
  private readonly registry = new HostToolRegistry();
  private hostToolList: HostToolInfo[] | null = null;
  private readonly directory: Directory;
  private readonly bulk: Bulk;
  private readonly hostCalls: RemoteHostCalls;
  private readonly subs: Subscription[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private sessionsKv: KV | undefined;
  private nextId = 1;
  /** When this host last reconnected to NATS (agents may still be reconnecting for a moment). */
  private reconnectedAt = 0;
  private idle: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private counts = { submitted: 0, succeeded: 0, failed: 0, retries: 0 };
  private readonly failedByCode: Partial<Record<ErrorCode, number>> = {};
  readonly python: PythonCaller = {
    call: <T>(name: string, args: unknown[] = [], options?: PythonCallOptions): Promise<T> => this.pythonCall(name, args, options) as Promise<T>,
  };

  private constructor(
    readonly options: ResolvedConnectOptions,
    private readonly nats: NatsModule,
    private readonly nc: NatsConnection,
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

  /** Connect to NATS, find the pool's agents, and resolve once one is there (see `waitForAgents`). */
  static async connect(options: ConnectOptions): Promise<RemotePool> {
    const resolved = checkConnectOptions(options);
    const nats = checkNatsOptions(resolved.nats, 'options.nats');
    const { nats: mod, nc } = await connectNats(nats, `snakepit-host-${resolved.pool}`);
    const pool = new RemotePool(resolved, mod, nc);
    try {
      await pool.open();
    } catch (err) {
      await nc.close().catch(() => {});
      throw err instanceof SnakepitError ? err : new ClusterUnavailableError(`cannot open pool ${resolved.pool}: ${String(err)}`, { cause: err });
    }
    return pool;
  }

  private async open(): Promise<void> {
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
  private async followStatus(): Promise<void> {
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

  private async probe(): Promise<void> {
    const byAgent = new Map<string, number[]>();
    for (const call of this.pending.values()) {
      if (call.agent !== undefined) byAgent.set(call.agent, [...(byAgent.get(call.agent) ?? []), call.id]);
    }
    await Promise.all([...byAgent].map(([agent, ids]) => this.probeAgent(agent, ids)));
  }

  /** Ask an agent which of these calls it still runs; those it does not know lost their replies. */
  private async probeAgent(agent: string, ids: number[]): Promise<void> {
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
        if (this.#state === 'closed') return;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  // ----------------------------------------------------------------- calling

  get state(): 'ready' | 'draining' | 'closed' {
    return this.#state;
  }

  execute<T = unknown>(tool: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T> {
    return this.submitPromise(K.EXECUTE, tool, args, options, undefined) as Promise<T>;
  }

  stream<T = unknown>(tool: string, args?: Record<string, unknown>, options?: StreamOptions): ToolStream<T> {
    return this.submitStream<T>(tool, args, options, undefined);
  }

  session(id?: string, options?: SessionOptions): RemoteSession {
    checkSessionOptions(id, options);
    if (this.#state !== 'ready') throw new PoolClosedError(`pool is ${this.#state}; no new sessions`);
    const known = id === undefined ? undefined : this.sessions.get(id);
    if (known !== undefined && known.state === 'open') return known;
    const session = new RemoteSession(this, id ?? randomUUID(), id !== undefined);
    this.sessions.set(session.id, session);
    return session;
  }

  sessionExecute(session: RemoteSession, tool: string, args: Record<string, unknown> | undefined, options?: ExecuteOptions): Promise<unknown> {
    return this.submitPromise(K.EXECUTE, tool, args, options, session);
  }

  sessionStream<T>(session: RemoteSession, tool: string, args: Record<string, unknown> | undefined, options?: StreamOptions): ToolStream<T> {
    return this.submitStream<T>(tool, args, options, session);
  }

  async sessionClose(session: RemoteSession): Promise<void> {
    this.sessions.delete(session.id);
    if (session.agent === undefined || !this.directory.agents.has(session.agent)) return;
    const data = this.bulk.sendable('', [K.SESSION_CLOSE, 0, this.hostId, '', null, 0, session.id, 0, 0, null]) as Uint8Array;
    await this.nc.request(`${subjects.agent(this.options.pool, session.agent)}.call`, data, { timeout: 5000 }).catch(() => {});
  }

  private pythonCall(name: string, args: unknown[], options: PythonCallOptions | undefined): Promise<unknown> {
    try {
      if (typeof name !== 'string') throw new InvalidArgumentsError(`a Python name must be a string, got ${typeof name}`);
      if (!Array.isArray(args)) throw new InvalidArgumentsError(`arguments of ${name} must be an array of positional arguments`);
      const { kwargs, call } = checkPythonCallOptions(options, this.options.timeout);
      return this.submitPromise(K.PYCALL, name, { args, kwargs }, call, undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private submitPromise(kind: CallKind, tool: string, args: unknown, options: ExecuteOptions | undefined, session: RemoteSession | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call = this.makeCall(kind, tool, args, options, session, resolve, reject);
      if (call !== undefined) this.dispatch(call, session);
    });
  }

  private submitStream<T>(tool: string, args: unknown, options: StreamOptions | undefined, session: RemoteSession | undefined): ToolStream<T> {
    let early: SnakepitError | undefined;
    const call = this.makeCall(K.STREAM, tool, args, options, session, () => {}, (err) => (early = err));
    if (call === undefined) throw early!;
    this.dispatch(call, session);
    return call.stream as ToolStream<T>;
  }

  /** Validate and create a call; undefined (after `reject`) when it cannot be accepted. */
  private makeCall(
    kind: CallKind,
    tool: string,
    args: unknown,
    options: (ExecuteOptions & StreamOptions) | undefined,
    session: RemoteSession | undefined,
    resolve: (v: unknown) => void,
    reject: (e: SnakepitError) => void,
  ): RemoteCall | undefined {
    this.counts.submitted++;
    let timeout: number;
    try {
      timeout = checkCallOptions(options, this.options.timeout);
      if (typeof tool !== 'string') throw new InvalidArgumentsError(`tool name must be a string, got ${typeof tool}`);
      if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args))) {
        throw new InvalidArgumentsError(`arguments of ${tool} must be an object of keyword arguments`, { tool });
      }
      if (this.#state !== 'ready') throw new PoolClosedError(`pool is ${this.#state}; no new calls are accepted`);
      const refused = session?.refusal();
      if (refused !== undefined) throw refused;
      if (options?.signal?.aborted === true) throw new CallAbortedError(tool, options.signal.reason);
    } catch (err) {
      this.record(err as SnakepitError);
      reject(err as SnakepitError);
      return undefined;
    }
    const flags = (options?.idempotent === true ? FLAG_IDEMPOTENT : 0) | (options?.collect === true ? FLAG_COLLECT : 0);
    const window = options?.window ?? this.options.streamWindow;
    const call = new RemoteCall(this, this.nextId++, kind, tool, (args ?? {}) as Record<string, unknown>, timeout, flags, window,
      options?.idleTimeout ?? 0, options?.signal, session?.id ?? null, resolve, reject);
    this.pending.set(call.id, call);
    return call;
  }

  /** Send a call to an agent: the session's, or the one with the most free capacity. */
  private dispatch(call: RemoteCall, session: RemoteSession | undefined): void {
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
  private onCallReply(msg: Msg): void {
    const parts = msg.subject.split('.');
    const call = this.pending.get(Number(parts[3]));
    if (call === undefined || call.settled || call.attempt !== Number(parts[4]) || call.agent === undefined) return;
    if (msg.headers?.code === 503) {
      this.onRequestFailed(call, call.agent, NO_RESPONDERS);
      return;
    }
    this.onReply(call, call.agent, msg);
  }

  private async findSession(session: RemoteSession): Promise<void> {
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

  private hostToolsOnCall(): HostToolInfo[] | null {
    if (this.registry.size === 0) return null;
    this.hostToolList ??= this.registry.list();
    return this.hostToolList;
  }

  private onReply(call: RemoteCall, agent: string, reply: Msg): void {
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

  private failFromAgent(call: RemoteCall, wire: unknown): void {
    const error = errorFromWire(wire, { requestId: call.id });
    if (error.code === 'SESSION_LOST' && call.sessionId !== null) this.sessions.get(call.sessionId)?.markLost(error.message, 'worker-exit');
    call.fail(error);
  }

  private onRequestFailed(call: RemoteCall, agent: string, err: unknown): void {
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
  private onInbox(msg: Msg): void {
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

  private control(call: RemoteCall, message: unknown[]): void {
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

  private record(error: SnakepitError): void {
    this.counts.failed++;
    this.failedByCode[error.code] = (this.failedByCode[error.code] ?? 0) + 1;
  }

  // ----------------------------------------------------------------- agents lost

  private agentLost(agent: string, why: string): void {
    this.emit('agentLost', { type: 'agentLost', agent, reason: why });
    for (const s of this.sessions.values()) {
      if (s.agent === agent) s.markLost(`session ${s.id}'s agent ${agent} was lost (${why}); its state is gone`);
    }
    for (const call of [...this.pending.values()]) {
      if (call.agent === agent && !call.settled) this.lose(call, agent, why);
    }
  }

  /** Take a call back from its agent before sending it again. */
  private undispatch(call: RemoteCall): void {
    const known = call.agent === undefined ? undefined : this.directory.agents.get(call.agent);
    if (known !== undefined) known.mine--;
    call.agent = undefined;
  }

  /** The call's agent is gone: at most once, so only idempotent calls go elsewhere. */
  private lose(call: RemoteCall, agent: string, why: string): void {
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

  // ----------------------------------------------------------------- host tools, catalogue, stats

  registerTool(name: string, fn: HostToolFn, options?: HostToolOptions): () => void {
    const off = this.registry.register(name, fn, options);
    this.hostToolList = null;
    return () => {
      off();
      this.hostToolList = null;
    };
  }

  unregisterTool(name: string): boolean {
    this.hostToolList = null;
    return this.registry.unregister(name);
  }

  hostTools(): readonly HostToolInfo[] {
    return this.registry.list();
  }

  /** The tool catalogue announced by the pool's agents. */
  tools(): readonly ToolInfo[] {
    for (const a of this.directory.agents.values()) if (a.record.tools.length > 0) return a.record.tools;
    return [];
  }

  stats(): RemotePoolStats {
    return Object.freeze({
      state: this.#state,
      inFlight: this.pending.size,
      queued: 0,
      ...this.counts,
      failedByCode: { ...this.failedByCode },
      agents: [...this.directory.agents.values()].map((a) => ({
        id: a.record.id, capacity: a.record.capacity, inFlight: a.record.inFlight, queued: a.record.queued, mine: a.mine,
      })),
      bulkBytesSent: this.bulk.sentBytes,
      bulkBytesReceived: this.bulk.receivedBytes,
    });
  }

  // ----------------------------------------------------------------- lifecycle

  /** Stop accepting calls, let the ones in flight settle, then disconnect. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.#state === 'ready') this.#state = 'draining';
      if (this.pending.size > 0) await new Promise<void>((r) => (this.idle = r));
      await Promise.all([...this.sessions.values()].map((s) => s.close()));
      await this.shutdown();
    })();
    return this.closing;
  }

  /** Reject every call in flight with POOL_CLOSED and disconnect now. Idempotent. */
  async destroy(): Promise<void> {
    this.#state = 'draining';
    for (const call of [...this.pending.values()]) call.abandon(new PoolClosedError('pool was destroyed'));
    await (this.closing ?? this.close());
  }

  private async shutdown(): Promise<void> {
    this.#state = 'closed';
    clearInterval(this.sweepTimer);
    this.bulk.close();
    for (const sub of this.subs) sub.unsubscribe();
    await closeConnection(this.nc);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
