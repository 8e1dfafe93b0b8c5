/**
 * The gateway's options (`createGateway(pool, options)`) and their checks: every one a caller can get
 * wrong throws INVALID_OPTIONS naming it, before the gateway serves anything.
 */

import type { IncomingMessage } from 'node:http';
import { InvalidOptionsError } from '../../errors.js';
import { describe } from '../../option-checks.js';
import { poolCore, type Pool } from '../../pool/pool.js';

export type GatewayAuth =
  | Readonly<Record<string, string>>
  | ((credential: string | undefined, req: IncomingMessage) => string | undefined | Promise<string | undefined>);

export interface GatewayPage {
  readonly contentType: string;
  readonly body: string | Buffer;
}

export interface GatewayOptions {
  /**
   * Authentication: a map from bearer token (or `x-api-key` value) to tenant name, or a function
   * returning the tenant of a credential (undefined: refused with 401). Default: none, every request
   * runs as the `default` tenant. Browsers' EventSource and WebSocket may pass `?access_token=`.
   */
  auth?: GatewayAuth;
  /** Largest request body in bytes; past it 413. Default: the pool's maxPayload. */
  maxBodyBytes?: number;
  /** Put Python tracebacks into error responses. Default false: they may reveal code and data. */
  exposeTracebacks?: boolean;
  /** Largest deadline a client may ask for with `x-timeout-ms`, in ms (0: none). Default: the pool's timeout. */
  maxTimeout?: number;
  /** Extra pages served by GET, by path (`/` -> HTML text). */
  pages?: Readonly<Record<string, GatewayPage>>;
  /** OpenAPI `info`. */
  info?: { title: string; version: string };
}

export interface CheckedGatewayOptions {
  readonly maxBody: number;
  readonly maxTimeout: number;
  readonly expose: boolean;
  readonly auth: GatewayAuth | undefined;
  /** The pages by path, in a map without a prototype. */
  readonly pages: Readonly<Record<string, GatewayPage>> | undefined;
  readonly info: { title: string; version: string };
}

const KNOWN = ['auth', 'maxBodyBytes', 'exposeTracebacks', 'maxTimeout', 'pages', 'info'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkPages(pages: unknown): Record<string, GatewayPage> | undefined {
  if (pages === undefined) return undefined;
  if (!isObject(pages)) throw new InvalidOptionsError(`gateway option pages must be an object of path -> { contentType, body }, got ${describe(pages)}`);
  const out = Object.create(null) as Record<string, GatewayPage>;
  for (const [path, page] of Object.entries(pages)) {
    if (!path.startsWith('/')) throw new InvalidOptionsError(`gateway option pages: path ${JSON.stringify(path)} must start with /`);
    if (!isObject(page) || typeof page.contentType !== 'string' || !(typeof page.body === 'string' || Buffer.isBuffer(page.body))) {
      throw new InvalidOptionsError(`gateway option pages[${JSON.stringify(path)}] must be { contentType: string, body: string | Buffer }`);
    }
    out[path] = { contentType: page.contentType, body: page.body };
  }
  return out;
}

/** `options` checked against `pool`, with the pool's defaults filled in. */
export function checkGatewayOptions(pool: Pool, options: GatewayOptions | undefined): CheckedGatewayOptions {
  if (poolCore(pool) === undefined) throw new InvalidOptionsError(`createGateway needs a Pool made by Pool.start, got ${describe(pool)}`);
  const o: unknown = options ?? {};
  if (!isObject(o)) throw new InvalidOptionsError(`gateway options must be an object, got ${describe(o)}`);
  for (const key of Object.keys(o)) {
    if (!KNOWN.includes(key)) throw new InvalidOptionsError(`gateway option ${key} is unknown (known: ${KNOWN.join(', ')})`);
  }
  const maxBody = o.maxBodyBytes ?? pool.options.maxPayload;
  if (typeof maxBody !== 'number' || !Number.isInteger(maxBody) || maxBody < 1) {
    throw new InvalidOptionsError(`gateway option maxBodyBytes must be a positive integer, got ${describe(maxBody)}`);
  }
  const maxTimeout = o.maxTimeout ?? pool.options.timeout;
  if (typeof maxTimeout !== 'number' || !Number.isFinite(maxTimeout) || maxTimeout < 0) {
    throw new InvalidOptionsError(`gateway option maxTimeout must be a number of milliseconds >= 0, got ${describe(maxTimeout)}`);
  }
  const expose = o.exposeTracebacks ?? false;
  if (typeof expose !== 'boolean') throw new InvalidOptionsError(`gateway option exposeTracebacks must be true or false, got ${describe(expose)}`);
  const auth = o.auth;
  if (auth !== undefined && typeof auth !== 'function' && !isObject(auth)) {
    throw new InvalidOptionsError('gateway option auth must be an object of token -> tenant or a function');
  }
  if (isObject(auth)) {
    for (const [token, tenant] of Object.entries(auth)) {
      if (typeof tenant !== 'string' || tenant === '') throw new InvalidOptionsError(`gateway option auth: the tenant of a token must be a non-empty string, got ${describe(tenant)}`);
      if (token === '') throw new InvalidOptionsError('gateway option auth: a token must not be empty');
    }
  }
  const info = o.info ?? { title: 'Snakepit gateway', version: '1.0.0' };
  if (!isObject(info) || typeof info.title !== 'string' || typeof info.version !== 'string') {
    throw new InvalidOptionsError('gateway option info must be { title: string, version: string }');
  }
  return { maxBody, maxTimeout, expose, auth: auth as GatewayAuth | undefined, pages: checkPages(o.pages), info: { title: info.title, version: info.version } };
}

/**
 * A client's deadline (`x-timeout-ms`, or a WebSocket message's `timeout`) in ms, capped at
 * `maxTimeout` (0: no cap); undefined when it is not a positive integer.
 */
export function clientTimeout(value: unknown, maxTimeout: number): number | undefined {
  const ms = typeof value === 'string' ? Number(value) : value;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1) return undefined;
  return maxTimeout > 0 ? Math.min(ms, maxTimeout) : ms;
}
