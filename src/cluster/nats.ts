/**
 * The optional `nats` package, imported only when a cluster feature is used, and one place that turns
 * NatsConnectOptions into a connection (auth, TLS, endless reconnects).
 */

import type { ConnectionOptions, NatsConnection } from 'nats';
import { ClusterUnavailableError, InvalidOptionsError } from '../errors.js';
import type { NatsConnectOptions } from './types.js';
import { importModule } from '../boot/import.js';

export type NatsModule = typeof import('nats');

let loading: Promise<NatsModule> | undefined;

/** Import `nats` once; CLUSTER_UNAVAILABLE naming the package when it is not installed. */
function loadNats(): Promise<NatsModule> {
  loading ??= importModule<NatsModule>('nats').catch((err: unknown) => {
    loading = undefined;
    throw new ClusterUnavailableError(
      "the optional package 'nats' is not installed; install it beside snakepit (npm install nats) to use Pool.connect or agents",
      { cause: err },
    );
  });
  return loading;
}

const KEYS = new Set(['servers', 'token', 'user', 'pass', 'nkeySeed', 'tls', 'name']);

export function checkNatsOptions(o: unknown, where: string): NatsConnectOptions {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InvalidOptionsError(`${where} must be an object`);
  const n = o as Record<string, unknown>;
  for (const key of Object.keys(n)) {
    if (!KEYS.has(key)) throw new InvalidOptionsError(`${where}.${key} is not known (known: ${[...KEYS].join(', ')})`);
  }
  const servers = Array.isArray(n.servers) ? n.servers : [n.servers];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s === '')) {
    throw new InvalidOptionsError(`${where}.servers must be a server URL or a non-empty list of them`);
  }
  for (const key of ['token', 'user', 'pass', 'nkeySeed', 'name'] as const) {
    if (n[key] !== undefined && typeof n[key] !== 'string') throw new InvalidOptionsError(`${where}.${key} must be a string`);
  }
  if ((n.user === undefined) !== (n.pass === undefined)) throw new InvalidOptionsError(`${where}.user and ${where}.pass go together`);
  const auths = [n.token !== undefined, n.user !== undefined, n.nkeySeed !== undefined].filter(Boolean).length;
  if (auths > 1) throw new InvalidOptionsError(`${where}: give one of token, user/pass or nkeySeed`);
  if (n.tls !== undefined && (n.tls === null || typeof n.tls !== 'object')) throw new InvalidOptionsError(`${where}.tls must be an object`);
  return n as unknown as NatsConnectOptions;
}

/** Connect with endless reconnects; CLUSTER_UNAVAILABLE when the first connection fails. */
export async function connectNats(o: NatsConnectOptions, name: string): Promise<{ nats: NatsModule; nc: NatsConnection }> {
  const nats = await loadNats();
  const options: ConnectionOptions = {
    servers: o.servers,
    name: o.name ?? name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
  };
  if (o.token !== undefined) options.token = o.token;
  if (o.user !== undefined) {
    options.user = o.user;
    options.pass = o.pass;
  }
  if (o.nkeySeed !== undefined) options.authenticator = nats.nkeyAuthenticator(new TextEncoder().encode(o.nkeySeed));
  if (o.tls !== undefined) options.tls = { ...o.tls };
  try {
    return { nats, nc: await nats.connect(options) };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new ClusterUnavailableError(`cannot connect to NATS at ${String(o.servers)}: ${detail}`, { cause: err });
  }
}

/** Did a request fail because nobody listens on the subject? */
export function isNoResponders(nats: NatsModule, err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === nats.ErrorCode.NoResponders;
}

/**
 * Drain (deliver what is buffered, then close), but never wait on a server that is not there: a
 * connection that is reconnecting would otherwise keep the drain, and the process, alive forever.
 */
export async function closeConnection(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const drained = nc.drain().catch(() => {});
  await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, 2000)))]);
  clearTimeout(timer);
  if (!nc.isClosed()) await nc.close().catch(() => {});
}
