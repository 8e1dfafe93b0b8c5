/**
 * Presence: each agent writes its record (capacity, load, tool catalogue) into the pool's JetStream
 * key-value bucket `snakepit_<pool>_agents` (whose entries expire after 5 heartbeats) and publishes the
 * same record on `snakepit.<pool>.presence` every heartbeat. Hosts read the bucket once at connect and
 * then follow the subject; an agent whose record is older than `staleAfter` (by the host's clock, so
 * clock skew does not matter) is gone. Sessions live in `snakepit_<pool>_sessions`: id -> agent.
 */

import type { KV, NatsConnection } from 'nats';
import type { ToolInfo } from '../pool/tools.js';
import { subjects } from './wire.js';

export interface AgentRecord {
  readonly id: string;
  /** Worker slots: size x concurrency. */
  readonly capacity: number;
  readonly inFlight: number;
  readonly queued: number;
  /** The agent's heartbeat period in ms. */
  readonly heartbeat: number;
  readonly tools: readonly ToolInfo[];
  /** False in the last record of an agent that has closed. */
  readonly up: boolean;
  /** The agent is closing: it finishes its calls and takes no new ones. */
  readonly draining?: boolean;
}

const te = new TextEncoder();
/** Made at first use: a process's first TextDecoder costs about 0.15 ms of the package's load, for the cluster only. */
let td: InstanceType<typeof TextDecoder> | undefined;

export function encodeRecord(r: AgentRecord): Uint8Array {
  return te.encode(JSON.stringify(r));
}

export function decodeRecord(data: Uint8Array): AgentRecord | undefined {
  try {
    const r = JSON.parse((td ??= new TextDecoder()).decode(data)) as AgentRecord;
    return typeof r?.id === 'string' && typeof r.capacity === 'number' ? r : undefined;
  } catch {
    return undefined;
  }
}

export async function openBuckets(nc: NatsConnection, pool: string, heartbeat: number): Promise<{ agents: KV; sessions: KV }> {
  const js = nc.jetstream();
  const agents = await js.views.kv(subjects.agentsBucket(pool), { history: 1, ttl: Math.max(1000, heartbeat * 5) });
  const sessions = await js.views.kv(subjects.sessionsBucket(pool), { history: 1 });
  return { agents, sessions };
}

/** What a host knows of one agent. */
export interface KnownAgent {
  record: AgentRecord;
  /** Host clock (ms) when the last record arrived. */
  seenAt: number;
  /** This host's calls in flight there now, and when the last record arrived. */
  mine: number;
  mineAtRecord: number;
}

/** The host's view of the pool's agents: who is alive and how loaded. */
export class Directory {
  readonly agents = new Map<string, KnownAgent>();
  /** While this host is cut from NATS it hears no heartbeats: nobody is judged then. */
  paused = false;

  constructor(
    private readonly staleAfter: number | undefined,
    private readonly onLost: (id: string, why: string) => void,
    private readonly onJoin: (id: string) => void,
  ) {}

  update(record: AgentRecord): void {
    if (!record.up) {
      if (this.agents.delete(record.id)) this.onLost(record.id, 'it closed');
      return;
    }
    const known = this.agents.get(record.id);
    if (known === undefined) {
      this.agents.set(record.id, { record, seenAt: Date.now(), mine: 0, mineAtRecord: 0 });
      this.onJoin(record.id);
      return;
    }
    known.record = record;
    known.seenAt = Date.now();
    known.mineAtRecord = known.mine;
  }

  /** Forget agents whose records stopped arriving. */
  sweep(now = Date.now()): void {
    if (this.paused) return;
    for (const [id, a] of this.agents) {
      const limit = this.staleAfter ?? a.record.heartbeat * 3;
      if (now - a.seenAt > limit) {
        this.agents.delete(id);
        this.onLost(id, `no heartbeat for ${now - a.seenAt} ms`);
      }
    }
  }

  /** After this host's own connection was down, give every agent a fresh period before judging it. */
  refresh(now = Date.now()): void {
    for (const a of this.agents.values()) a.seenAt = now;
  }

  /** The agent with the most free capacity (its last load, corrected by this host's calls since). */
  pick(exclude?: ReadonlySet<string>): KnownAgent | undefined {
    let best: KnownAgent | undefined;
    let bestLoad = Infinity;
    for (const a of this.agents.values()) {
      if (exclude?.has(a.record.id)) continue;
      const r = a.record;
      if (r.draining === true) continue;
      const busy = Math.max(0, r.inFlight + r.queued + a.mine - a.mineAtRecord, a.mine);
      const load = (busy + Math.random() * 0.5) / Math.max(1, r.capacity);
      if (load < bestLoad) {
        best = a;
        bestLoad = load;
      }
    }
    return best;
  }
}
