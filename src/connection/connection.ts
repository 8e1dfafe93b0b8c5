/**
 * One protocol conversation with one worker, over any duplex byte stream (a `Channel`): the
 * handshake (a ping written at once, in JSON; `hello`, then the ping's answer), the map of calls in
 * flight, frames in both directions, stream credit and heartbeats. It knows nothing of processes: its
 * owner (the worker handle) is told when the worker is ready, broke the protocol, or sent something
 * for the pool.
 *
 * After a protocol error nothing more is read from the channel: frames that were already buffered
 * behind the bad one, or arrive later, are never acted upon (a worker that sent garbage cannot
 * then forge a result).
 */

import { PayloadTooLargeError, ProtocolError, SnakepitError, WorkerCrashedError, type ErrorFields } from '../errors.js';
import { EncodeLimitError, JsonCodec, makeCodec, type Codec } from '../protocol/codec.js';
import { FrameDecoder, HEADER_BYTES, type Frame } from '../protocol/frames.js';
import { checkHello } from '../protocol/handshake.js';
import {
  Msg,
  cancelMessage,
  creditMessage,
  pingMessage,
  shutdownMessage,
  type CodecName,
  type HelloInfo,
  type HostCallMessage,
  type WireError,
} from '../protocol/messages.js';
import type { Channel } from '../transport/transport.js';
import { Heartbeat } from './heartbeat.js';
import { Outbox } from './outbox.js';

/** The receiving end of one call on a worker. Exactly one terminal callback is called. */
export interface CallSink {
  readonly id: number;
  readonly tool: string;
  onResult(value: unknown): void;
  onError(error: WireError): void;
  onChunk(value: unknown): void;
  onEnd(): void;
  onWorkerLost(error: SnakepitError): void;
}

/** What a connection tells its owner. */
export interface ConnectionOwner {
  /** `hello` was accepted and the first ping answered. */
  onReady(info: HelloInfo): void;
  /** `hello` is unacceptable (version, codec): the worker must not be used. */
  onBadHello(problem: string): void;
  /** The worker reported a failure at startup (`fatal`); it exits next. */
  onFatal(error: WireError): void;
  /** The worker broke the protocol; nothing more is read from it. */
  onBroken(error: SnakepitError): void;
  /** A call left the pending map: its slot is free again. */
  onSettled(sink: CallSink): void;
  /** Calls are in flight (true) or none are (false): hold the host's event loop or not. */
  onBusy(busy: boolean): void;
  onLog(level: string, message: string, requestId: number | undefined, logger?: string, exception?: string): void;
  /** `trace`: the W3C trace context of the Python span that made the host call, when traced. */
  onHostCall(id: number, parent: number, tool: string, args: Record<string, unknown>, trace?: unknown): void;
}

export interface ConnectionSpec {
  /** The worker's id, for messages. */
  readonly workerId: number;
  readonly maxPayload: number;
  readonly codecs: readonly CodecName[];
  /** How integers in results arrive (the `int64` pool option). */
  readonly int64?: 'auto' | 'number' | 'bigint';
}

export class Connection {
  /** Calls sent and not yet answered, including ones the caller gave up on (their slot stays taken). */
  readonly pending = new Map<number, CallSink>();
  readonly heartbeat = new Heartbeat();
  completed = 0;
  info: HelloInfo | undefined;
  /** Bytes written to and read from the byte stream (metrics). */
  bytesOut = 0;
  bytesIn = 0;
  private ready = false;
  private broken = false;
  private closed = false;
  private codec: Codec = new JsonCodec();
  private channel: Channel | undefined;
  private outbox: Outbox | undefined;
  private pingNonce = 0;

  constructor(
    private readonly spec: ConnectionSpec,
    private readonly owner: ConnectionOwner,
  ) {}

  /** Start reading and writing over `channel` (the worker sends `hello` first). */
  attach(channel: Channel): void {
    this.channel = channel;
    this.outbox = new Outbox(channel.output);
    channel.output.on('error', () => {
      /* EPIPE after the worker died: its exit settles everything. */
    });
    channel.input.on('error', () => {});
    const decoder = new FrameDecoder(this.spec.maxPayload, this.onFrame);
    channel.input.on('data', (chunk: Buffer) => {
      if (this.broken) return;
      this.bytesIn += chunk.length;
      try {
        decoder.push(chunk);
      } catch (err) {
        this.fail(err);
      }
    });
    // A socket handed over after its token was read is paused: start the flow.
    channel.input.resume();
    // The handshake's ping goes out now, in JSON (the codec is not known before `hello`): the worker
    // answers it right after `hello`, with no round trip through the host in between, and the host's
    // first write happens while it waits for the worker anyway.
    this.pingNonce = 1 + Math.floor(Math.random() * 1e9);
    try {
      this.send(this.codec.encodeFrame(pingMessage(this.pingNonce)), true);
    } catch {
      /* the worker is gone already: its exit reports it */
    }
  }

  /** Whether frames can be written (the worker is reachable and has not gone away). */
  get writable(): boolean {
    const out = this.channel?.output;
    return !this.closed && out !== undefined && !out.destroyed;
  }

  // ------------------------------------------------------------------ sending

  /**
   * Write one complete frame: at the end of the tick with the others sent in it, or with `now` at
   * once. Throws WorkerCrashedError if the worker cannot be reached.
   */
  send(frame: Frame, now = false): void {
    if (!this.writable) throw new WorkerCrashedError(`worker ${this.spec.workerId} is not running`, { workerId: this.spec.workerId });
    this.bytesOut += frame.length;
    if (now) this.outbox!.sendNow(frame);
    else this.outbox!.send(frame);
  }

  /**
   * Send a call's frame and track it until the worker answers or goes away. A call to an idle worker
   * is written at once: nothing else it could share a write with is on its way to that worker.
   */
  dispatch(sink: CallSink, frame: Frame): void {
    this.send(frame, this.pending.size === 0);
    this.pending.set(sink.id, sink);
    this.owner.onBusy(true);
  }

  /**
   * Encode a message for this worker. Throws EncodeError, or PayloadTooLargeError (naming `what`) when
   * the frame would exceed maxPayload: the one place the host checks what it sends.
   */
  encode(message: unknown, what = 'message', fields: ErrorFields = {}): Frame {
    let frame: Frame;
    try {
      frame = this.codec.encode(message, this.spec.maxPayload);
    } catch (err) {
      if (err instanceof EncodeLimitError) throw new PayloadTooLargeError(err.size, this.spec.maxPayload, what, fields);
      throw err;
    }
    const size = frame.length - HEADER_BYTES;
    if (size > this.spec.maxPayload) throw new PayloadTooLargeError(size, this.spec.maxPayload, what, fields);
    return frame;
  }

  cancel(id: number): void {
    this.trySend(cancelMessage(id));
  }

  /**
   * Grant stream credit. Written at once rather than at the end of the tick: a consumer that takes
   * buffered chunks runs one long chain of microtasks, and the worker would wait for the credit until
   * the buffer is empty.
   */
  credit(id: number, n: number): void {
    if (!this.writable) return;
    this.trySend(creditMessage(id, n));
    this.outbox?.flush();
  }

  /** Send a heartbeat ping unless one is outstanding (see heartbeat.ts). */
  ping(now: number): void {
    if (!this.ready) return;
    const nonce = this.heartbeat.next(now);
    if (nonce !== undefined) this.trySend(pingMessage(nonce));
  }

  /** Ask the worker to finish: `shutdown`, then end of the byte stream. */
  shutdown(): void {
    this.trySend(shutdownMessage());
    this.outbox?.flush();
    this.channel?.output.end();
  }

  private trySend(message: readonly unknown[]): void {
    if (!this.writable) return;
    try {
      this.send(this.codec.encodeFrame(message));
    } catch {
      /* the worker is going away; its exit settles the call */
    }
  }

  ref(): void {
    this.channel?.ref();
  }

  unref(): void {
    this.channel?.unref();
  }

  // ---------------------------------------------------------------- receiving

  private readonly onFrame = (payload: Buffer): void => {
    if (this.broken) return;
    const msg = this.codec.decode(payload);
    if (!Array.isArray(msg) || typeof msg[0] !== 'number') {
      throw new ProtocolError(`worker ${this.spec.workerId} sent a frame that is not a protocol message`);
    }
    switch (msg[0]) {
      case Msg.RESULT: {
        const sink = this.take(msg[1]);
        if (sink) {
          sink.onResult(msg[2]);
          this.owner.onSettled(sink);
        }
        return;
      }
      case Msg.ERROR: {
        const sink = this.take(msg[1]);
        if (sink) {
          sink.onError(msg[2] as WireError);
          this.owner.onSettled(sink);
        }
        return;
      }
      case Msg.CHUNK:
        this.pending.get(msg[1])?.onChunk(msg[2]);
        return;
      case Msg.END: {
        const sink = this.take(msg[1]);
        if (sink) {
          sink.onEnd();
          this.owner.onSettled(sink);
        }
        return;
      }
      case Msg.PONG:
        if (!this.ready && this.info !== undefined && msg[1] === this.pingNonce) {
          this.ready = true;
          this.owner.onReady(this.info);
        } else {
          this.heartbeat.pong(msg[1], performance.now());
        }
        return;
      case Msg.HOST_CALL: {
        const [, id, parent, tool, args, trace] = msg as HostCallMessage;
        this.owner.onHostCall(id, parent, tool, args, trace);
        return;
      }
      case Msg.LOG:
        this.owner.onLog(String(msg[1]), String(msg[2]), msg[3] ?? undefined, msg[4], msg[5]);
        return;
      case Msg.HELLO:
        this.onHello(msg[1] as HelloInfo);
        return;
      case Msg.FATAL:
        this.owner.onFatal(msg[1] as WireError);
        return;
      default:
        throw new ProtocolError(`worker ${this.spec.workerId} sent an unknown message kind ${String(msg[0])}`);
    }
  };

  private take(id: number): CallSink | undefined {
    const sink = this.pending.get(id);
    if (sink === undefined) return undefined;
    this.pending.delete(id);
    this.completed++;
    if (this.pending.size === 0 && this.ready) this.owner.onBusy(false);
    return sink;
  }

  private onHello(info: HelloInfo): void {
    if (this.ready || this.info !== undefined) {
      throw new ProtocolError(`worker ${this.spec.workerId} sent hello twice`);
    }
    const problem = checkHello(info, this.spec.codecs);
    if (problem !== undefined) {
      this.owner.onBadHello(problem);
      return;
    }
    this.info = info;
    this.codec = makeCodec(info.codec, this.spec.int64);
  }

  /** The byte stream can no longer be trusted: read nothing more from it, and tell the owner. */
  private fail(err: unknown): void {
    if (this.broken) return;
    this.broken = true;
    this.channel?.input.pause();
    const error =
      err instanceof SnakepitError
        ? err
        : new ProtocolError(`worker ${this.spec.workerId} broke the protocol: ${String(err)}`, { cause: err });
    this.owner.onBroken(error);
  }

  /** The worker went away: reject every call in flight with `error`, and write nothing more. */
  close(error: SnakepitError): CallSink[] {
    this.closed = true;
    this.ready = false;
    this.broken = true;
    const sinks = [...this.pending.values()];
    this.pending.clear();
    for (const sink of sinks) {
      sink.onWorkerLost(error);
      this.owner.onSettled(sink);
    }
    this.channel?.input.destroy();
    this.channel?.output.destroy();
    return sinks;
  }
}
