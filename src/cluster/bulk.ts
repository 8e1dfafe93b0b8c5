/**
 * Messages larger than the NATS server's `max_payload` travel in parts. The sender sends each part as
 * a request to the receiver's `<prefix>.p.<transfer>` subject and keeps at most `WINDOW` parts
 * unacknowledged (flow control: a slow receiver slows the sender, memory stays bounded); then it
 * sends the small message `[BULK, transfer]` in place of the real one, and the receiver decodes the
 * assembled bytes. Parts are raw slices of the MessagePack payload: binary values are never base64.
 */

import { nodeCrypto } from '../boot/crypto.js';
import type { Msg, NatsConnection, Subscription } from 'nats';
import { PayloadTooLargeError, ProtocolError } from '../errors.js';
import type { NatsModule } from './nats.js';
import { decode, encode, encodedLength, K, payloadBytes } from './wire.js';

/** Parts in flight per transfer. */
const WINDOW = 8;
/** Room left in each message for the subject, reply subject and headers. */
const HEADROOM = 4096;
/** An incomplete or unclaimed transfer is dropped after this long. */
const TRANSFER_TTL_MS = 60_000;

interface Incoming {
  parts: Uint8Array[];
  got: number;
  bytes: number;
  timer: NodeJS.Timeout;
}

export class Bulk {
  private readonly incoming = new Map<string, Incoming>();
  private readonly ready = new Map<string, { data: Buffer; timer: NodeJS.Timeout }>();
  private sub: Subscription | undefined;
  /** Transfers sent and received, for statistics. */
  sentBytes = 0;
  receivedBytes = 0;

  constructor(
    private readonly nats: NatsModule,
    private readonly nc: NatsConnection,
    /** This side's subject prefix; parts arrive on `<prefix>.p.*`. */
    private readonly prefix: string,
    private readonly maxPayload: number,
    private readonly partTimeoutMs = 30_000,
  ) {}

  listen(): void {
    this.sub = this.nc.subscribe(`${this.prefix}.p.*`, { callback: (err, msg) => err === null && this.onPart(msg) });
  }

  /** Largest message sent whole. */
  get inlineLimit(): number {
    return Math.max(1024, (this.nc.info?.max_payload ?? 1024 * 1024) - HEADROOM);
  }

  /**
   * The bytes to send for `message` to the side listening on `targetPrefix`: the message itself when
   * small, else its parts go first and the result is a `[BULK, id]` message.
   */
  async prepare(targetPrefix: string, message: unknown[]): Promise<Uint8Array> {
    return this.sendable(targetPrefix, message);
  }

  /** Like `prepare`, but synchronous (no promise) for a message sent whole: the common case. */
  sendable(targetPrefix: string, message: unknown[]): Uint8Array | Promise<Uint8Array> {
    const frame = encode(message);
    const length = encodedLength(frame);
    if (length <= this.inlineLimit) return payloadBytes(frame);
    return this.sendLarge(targetPrefix, frame, length);
  }

  private async sendLarge(targetPrefix: string, frame: ReturnType<typeof encode>, length: number): Promise<Uint8Array> {
    if (length > this.maxPayload) throw new PayloadTooLargeError(length, this.maxPayload, 'message');
    const id = nodeCrypto().randomUUID();
    await this.sendParts(`${targetPrefix}.p.${id}`, payloadBytes(frame));
    return payloadBytes(encode([K.BULK, id]));
  }

  private async sendParts(subject: string, data: Uint8Array): Promise<void> {
    const size = this.inlineLimit;
    const total = Math.ceil(data.length / size);
    let next = 0;
    const pump = async (): Promise<void> => {
      while (next < total) {
        const seq = next++;
        const h = this.nats.headers();
        h.set('s', String(seq));
        h.set('n', String(total));
        const reply = await this.nc.request(subject, data.subarray(seq * size, (seq + 1) * size), {
          timeout: this.partTimeoutMs,
          headers: h,
        });
        if (reply.data.length > 0) throw new PayloadTooLargeError(data.length, this.maxPayload, 'message (refused by the receiver)');
      }
    };
    await Promise.all(Array.from({ length: Math.min(WINDOW, total) }, pump));
    this.sentBytes += data.length;
  }

  private onPart(msg: Msg): void {
    const id = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    const seq = Number(msg.headers?.get('s'));
    const total = Number(msg.headers?.get('n'));
    if (!Number.isInteger(seq) || !Number.isInteger(total) || seq < 0 || seq >= total) return;
    let entry = this.incoming.get(id);
    if (entry === undefined) {
      entry = { parts: new Array<Uint8Array>(total), got: 0, bytes: 0, timer: setTimeout(() => this.incoming.delete(id), TRANSFER_TTL_MS) };
      entry.timer.unref();
      this.incoming.set(id, entry);
    }
    if (entry.parts[seq] === undefined) {
      entry.parts[seq] = msg.data;
      entry.got++;
      entry.bytes += msg.data.length;
    }
    if (entry.bytes > this.maxPayload) {
      clearTimeout(entry.timer);
      this.incoming.delete(id);
      msg.respond(new Uint8Array([1]));
      return;
    }
    msg.respond(new Uint8Array(0));
    if (entry.got === total) {
      clearTimeout(entry.timer);
      this.incoming.delete(id);
      const data = Buffer.concat(entry.parts, entry.bytes);
      this.receivedBytes += data.length;
      const timer = setTimeout(() => this.ready.delete(id), TRANSFER_TTL_MS);
      timer.unref();
      this.ready.set(id, { data, timer });
    }
  }

  /** Decode a received message, fetching the assembled bytes when it is a `[BULK, id]` stand-in. */
  inbound(data: Uint8Array): unknown[] {
    const message = decode(data);
    return message[0] === K.BULK ? decode(this.take(message[1])) : message;
  }

  /** The assembled bytes of transfer `id` (once). */
  take(id: unknown): Buffer {
    const entry = typeof id === 'string' ? this.ready.get(id) : undefined;
    if (entry === undefined) throw new ProtocolError(`bulk transfer ${String(id)} is unknown or incomplete`);
    clearTimeout(entry.timer);
    this.ready.delete(id as string);
    return entry.data;
  }

  close(): void {
    this.sub?.unsubscribe();
    for (const e of this.incoming.values()) clearTimeout(e.timer);
    for (const e of this.ready.values()) clearTimeout(e.timer);
    this.incoming.clear();
    this.ready.clear();
  }
}
