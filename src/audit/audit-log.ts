/**
 * The audit log (`options.audit`, opt-in): one record per settled call, and one per call the host
 * refused before sending it (a `python.call` name the allow list denies), to a JSON Lines file and/or
 * a callback. Records are hash-chained (chain.ts); `verifyAuditLog` checks a file.
 *
 * Durability: a record is written with one `writeSync` on a file opened for appending, when the call
 * settles and before its promise is resolved or rejected, so a host that crashes (even by SIGKILL)
 * afterwards loses no settled call: the bytes are in the kernel. `fsync: true` also flushes each
 * record to the disk (survives a power loss; costs a disk flush per call). A write that fails is
 * reported as a process warning (code SNAKEPIT_AUDIT) and the chain goes on.
 */

import { appendFileSync, closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { InvalidOptionsError, type SnakepitError } from '../errors.js';
import { frameBytes } from '../protocol/frames.js';
import { MsgpackEncoder } from '../protocol/msgpack-encode.js';
import { GENESIS, seal, sha256, unseal } from './chain.js';

export interface AuditOptions {
  /** Append records to this JSON Lines file (created if missing; an existing chain is continued). */
  path?: string;
  /** Called with every record, after it is written. */
  onRecord?: (record: AuditRecord) => void;
  /** Record the arguments themselves instead of their SHA-256 digest. Default false. */
  rawArguments?: boolean;
  /** fsync the file after every record. Default false (see the module comment). */
  fsync?: boolean;
}

export interface ResolvedAuditOptions {
  readonly path: string | undefined;
  readonly onRecord: ((record: AuditRecord) => void) | undefined;
  readonly rawArguments: boolean;
  readonly fsync: boolean;
}

export interface AuditRecord {
  /** 1, 2, 3... along the file's chain (along the callback's when there is no file). */
  seq: number;
  /** ISO 8601 time of settlement. */
  time: string;
  /** The `principal` call option, or null. */
  principal: string | null;
  /** The tool, or for allowlisted calls and references `$python.call`, `$ref.call`... */
  tool: string;
  /** The dotted name (`numpy.sqrt`), or `type.method` / `type.attr` for a reference operation. */
  target: string | null;
  /** SHA-256 (hex) of the arguments as the MessagePack encoder writes them; null with rawArguments. */
  argsDigest: string | null;
  /** The arguments, only with `rawArguments: true`. */
  args?: unknown;
  outcome: 'ok' | 'error' | 'denied';
  /** The error code when the outcome is not ok. */
  code: string | null;
  /** Why a denial was made (the error message), for outcome `denied`. */
  reason: string | null;
  session: string | null;
  /** Milliseconds waiting before dispatch, and running on the worker (null: never dispatched). */
  queueMs: number;
  runMs: number | null;
  pid: number | null;
  /** Present and true for a call answered from the host's result cache. */
  cached?: boolean;
  /** For a batched call: the size of its batch (the batch itself is also recorded, as one call). */
  batchSize?: number;
  prev: string;
  hash: string;
}

/** What the log needs of a settled call (src/pool/call.ts's Call has it). */
export interface AuditedCall {
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly submittedAt: number;
  readonly dispatchedAt: number;
  readonly principal?: string | undefined;
  readonly worker?: { readonly pid: number | undefined } | undefined;
  readonly session?: { readonly id: string } | undefined;
  /** Answered from the host's result cache (src/serving), never sent to a worker. */
  readonly cached?: boolean;
  /** Calls in the batch this call ran in (src/serving), when it was batched. */
  readonly batchSize?: number;
}

const KNOWN = new Set(['path', 'onRecord', 'rawArguments', 'fsync']);

export function resolveAuditOptions(input: unknown): ResolvedAuditOptions | undefined {
  if (input === undefined) return undefined;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new InvalidOptionsError('options.audit must be an object');
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new InvalidOptionsError(`options.audit.${key} is not an audit option (known: ${[...KNOWN].join(', ')})`);
  }
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) throw new InvalidOptionsError('options.audit.path must be a non-empty string');
  if (o.onRecord !== undefined && typeof o.onRecord !== 'function') throw new InvalidOptionsError('options.audit.onRecord must be a function');
  if (o.path === undefined && o.onRecord === undefined) throw new InvalidOptionsError('options.audit needs a path, an onRecord callback, or both');
  for (const key of ['rawArguments', 'fsync'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new InvalidOptionsError(`options.audit.${key} must be a boolean`);
  }
  return Object.freeze({
    path: o.path === undefined ? undefined : resolvePath(o.path as string),
    onRecord: o.onRecord as ResolvedAuditOptions['onRecord'],
    rawArguments: o.rawArguments === true,
    fsync: o.fsync === true,
  });
}

/** The last line of the file open at `fd` (its tail only is read), or undefined when empty. */
function lastLine(fd: number): string | undefined {
  const size = fstatSync(fd).size;
  if (size === 0) return undefined;
  const length = Math.min(size, 1 << 20);
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, size - length);
  const lines = buf.toString('utf8').split('\n').filter((l) => l !== '');
  return lines[lines.length - 1];
}

function targetOf(tool: string, args: Record<string, unknown>): string | null {
  if (tool === '$python.call' || tool === '$python.create') return typeof args.name === 'string' ? args.name : null;
  if (tool.startsWith('$ref.')) {
    const ref = args.ref as { type?: unknown } | undefined;
    const member = args.method ?? args.attr;
    return typeof member === 'string' ? `${String(ref?.type ?? '?')}.${member}` : null;
  }
  return null;
}

export class AuditLog {
  private fd: number | undefined;
  private prev = GENESIS;
  private seq = 0;
  private readonly encoder = new MsgpackEncoder();

  constructor(private readonly options: ResolvedAuditOptions) {
    if (options.path !== undefined) {
      try {
        this.fd = openSync(options.path, 'a+', 0o600);
      } catch (err) {
        throw new InvalidOptionsError(`options.audit.path ${JSON.stringify(options.path)} cannot be opened: ${(err as Error).message}`);
      }
      const last = lastLine(this.fd);
      const sealed = last === undefined ? undefined : unseal(last);
      if (sealed !== undefined) {
        this.prev = sealed.hash;
        this.seq = Number((JSON.parse(sealed.body) as { seq?: unknown }).seq) || 0;
      }
    }
  }

  /** A call settled (`error` undefined: it succeeded). */
  settled(call: AuditedCall, error: SnakepitError | undefined): void {
    const now = performance.now();
    const dispatched = call.dispatchedAt > 0;
    const denied = error?.code === 'PERMISSION_DENIED';
    this.write({
      principal: call.principal ?? null,
      tool: call.tool,
      target: targetOf(call.tool, call.args),
      ...this.argsFields(call.args),
      outcome: error === undefined ? 'ok' : denied ? 'denied' : 'error',
      code: error?.code ?? null,
      reason: denied ? error.message : null,
      session: call.session?.id ?? null,
      queueMs: round((dispatched ? call.dispatchedAt : now) - call.submittedAt),
      runMs: dispatched ? round(now - call.dispatchedAt) : null,
      pid: call.worker?.pid ?? null,
      ...(call.cached === true ? { cached: true } : {}),
      ...(call.batchSize !== undefined ? { batchSize: call.batchSize } : {}),
    });
  }

  /** A call the host refused before sending it (allow list). */
  refused(tool: string, args: Record<string, unknown>, principal: string | undefined, session: string | undefined, error: SnakepitError): void {
    this.write({
      principal: principal ?? null,
      tool,
      target: targetOf(tool, args),
      ...this.argsFields(args),
      outcome: 'denied',
      code: error.code,
      reason: error.message,
      session: session ?? null,
      queueMs: 0,
      runMs: null,
      pid: null,
    });
  }

  /** Close the file; records that still come (calls a destroy settles) are appended by path. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    this.fd = undefined;
  }

  private argsFields(args: Record<string, unknown>): { argsDigest: string | null; args?: unknown } {
    if (this.options.rawArguments) return { argsDigest: null, args };
    try {
      return { argsDigest: sha256(frameBytes(this.encoder.encodeFrame(args))) };
    } catch {
      return { argsDigest: sha256(String(args)) };
    }
  }

  private write(fields: Omit<AuditRecord, 'seq' | 'time' | 'prev' | 'hash'>): void {
    const record = { seq: this.seq + 1, time: new Date().toISOString(), ...fields, prev: this.prev };
    let body: string;
    try {
      body = JSON.stringify(record);
    } catch (err) {
      // Raw arguments JSON cannot hold (a BigInt): record their digest instead.
      body = JSON.stringify({ ...record, args: undefined, argsDigest: sha256(String(err)) });
    }
    const { line, hash } = seal(body);
    if (this.options.path !== undefined) {
      try {
        if (this.fd !== undefined) writeSync(this.fd, `${line}\n`);
        else appendFileSync(this.options.path, `${line}\n`, { mode: 0o600 }); // after close(): calls a destroy settles
        if (this.options.fsync && this.fd !== undefined) fsyncSync(this.fd);
      } catch (err) {
        process.emitWarning(`snakepit: audit record ${record.seq} could not be written: ${(err as Error).message}`, { code: 'SNAKEPIT_AUDIT' });
      }
    }
    this.seq = record.seq;
    this.prev = hash;
    if (this.options.onRecord !== undefined) {
      try {
        this.options.onRecord({ ...record, hash } as AuditRecord);
      } catch (err) {
        process.emitWarning(`snakepit: audit onRecord threw: ${(err as Error).message}`, { code: 'SNAKEPIT_AUDIT' });
      }
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
