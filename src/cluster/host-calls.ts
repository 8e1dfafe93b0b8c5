/**
 * Python calling back into a host across the network: an agent forwards `ctx.call_host(...)` as a
 * request on `_SNK.<host>.h`; the host runs its registered tool with the calling call's deadline and
 * a signal that fires when that call settles, and answers `[OK, value]` or `[ERR, [code, message]]`.
 */

import type { Msg } from 'nats';
import type { HostToolContext, HostToolRegistry } from '../pool/host-tools.js';
import type { Bulk } from './bulk.js';
import type { RemoteCall } from './remote-call.js';
import { K } from './wire.js';

/** The code and message Python's HostToolError gets (as for a local pool's host tools). */
function failure(err: unknown): [string, string, Record<string, never>] {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
    return typeof code === 'string' && code !== '' ? [code, err.message, {}] : ['HOST_TOOL_ERROR', `${name}${err.message}`, {}];
  }
  return ['HOST_TOOL_ERROR', String(err), {}];
}

export class RemoteHostCalls {
  private readonly signals = new Map<number, AbortController>();

  constructor(
    private readonly registry: HostToolRegistry,
    private readonly bulk: Bulk,
    private readonly calls: ReadonlyMap<number, RemoteCall>,
  ) {}

  /** A call settled: its host tools' signals fire. */
  settled(id: number): void {
    const ac = this.signals.get(id);
    if (ac === undefined) return;
    this.signals.delete(id);
    ac.abort(new Error('the calling call is over'));
  }

  handle(msg: Msg, agentPrefix: (agent: string) => string): void {
    let m: unknown[];
    try {
      m = this.bulk.inbound(msg.data);
    } catch (err) {
      msg.respond(this.small([K.ERR, failure(err)]));
      return;
    }
    const [, callId, name, args] = m as [number, number, string, Record<string, unknown>];
    const call = this.calls.get(callId);
    const answer = (message: unknown[]): void => {
      const target = call?.agent === undefined ? '' : agentPrefix(call.agent);
      this.bulk.prepare(target, message).then(
        (data) => msg.respond(data),
        (err: unknown) => msg.respond(this.small([K.ERR, failure(err)])),
      );
    };
    if (call === undefined || call.settled) {
      answer([K.ERR, ['CANCELLED', `the call that made host call ${name} is over`, {}]]);
      return;
    }
    const entry = this.registry.get(name);
    if (entry === undefined) {
      const known = this.registry.list().map((t) => t.name);
      answer([K.ERR, ['TOOL_NOT_FOUND', `no host tool named ${JSON.stringify(name)}; host tools: ${known.length ? known.join(', ') : '(none)'}`, {}]]);
      return;
    }
    let ac = this.signals.get(callId);
    if (ac === undefined) {
      ac = new AbortController();
      this.signals.set(callId, ac);
    }
    const left = call.remainingMs();
    const ctx: HostToolContext = {
      signal: ac.signal,
      timeout: left === 0 ? null : left,
      session: undefined,
      tool: call.tool,
      requestId: call.id,
      workerId: -1,
      pid: undefined,
    };
    Promise.resolve()
      .then(() => entry.fn(args, ctx))
      .then(
        (value) => answer([K.OK, value]),
        (err: unknown) => answer([K.ERR, failure(err)]),
      );
  }

  private small(message: unknown[]): Uint8Array {
    const out = this.bulk.sendable('', message);
    return out instanceof Uint8Array ? out : new Uint8Array(0);
  }
}
