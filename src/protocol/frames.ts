/**
 * Length-prefixed frames: a 4-byte big-endian length, then the encoded message. A length above the
 * maximum is refused before anything is allocated for it.
 *
 * A frame is written either as one buffer or as several parts back to back (`FrameParts`): large
 * binary values travel as attachments that are written straight from the caller's memory.
 */

import { ProtocolError } from '../errors.js';

export const HEADER_BYTES = 4;
/** The largest payload the 4-byte header can describe. */
export const MAX_FRAME_PAYLOAD = 0xffff_ffff;
/** Frames above this size are assembled in one buffer of exactly their size. */
const LARGE_FRAME = 64 * 1024;

export class FrameTooLargeError extends ProtocolError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`frame of ${size} bytes announced; the maximum payload is ${limit} bytes`);
  }
}

/**
 * A frame made of several buffers written in order: the first holds the length header. `length` is
 * the size of the whole frame, header included, like `Buffer.length` for a one-buffer frame.
 */
export class FrameParts {
  constructor(
    readonly parts: readonly Uint8Array[],
    readonly length: number,
  ) {}
}

/** An encoded frame, header included. */
export type Frame = Buffer | FrameParts;

/** All bytes of a frame in one buffer (copies when the frame has several parts). */
export function frameBytes(frame: Frame): Buffer {
  if (!(frame instanceof FrameParts)) return frame;
  return Buffer.concat(frame.parts, frame.length);
}

export class FrameDecoder {
  private rest: Buffer | null = null;
  private large: Buffer | null = null;
  private largeFilled = 0;

  constructor(
    private readonly maxPayload: number,
    private readonly onFrame: (payload: Buffer) => void,
  ) {}

  /** Bytes buffered for a frame not yet complete. */
  get pendingBytes(): number {
    return (this.rest?.length ?? 0) + this.largeFilled;
  }

  /** Feed bytes from the pipe; calls `onFrame` for each complete frame. Throws FrameTooLargeError. */
  push(chunk: Buffer): void {
    let data = chunk;
    let off = 0;
    if (this.large !== null) {
      const target = this.large;
      const n = Math.min(target.length - this.largeFilled, data.length);
      data.copy(target, this.largeFilled, 0, n);
      this.largeFilled += n;
      off = n;
      if (this.largeFilled < target.length) return;
      this.large = null;
      this.largeFilled = 0;
      this.onFrame(target);
    }
    if (this.rest !== null) {
      data = Buffer.concat([this.rest, off === 0 ? data : data.subarray(off)]);
      off = 0;
      this.rest = null;
    }
    const size = data.length;
    while (size - off >= HEADER_BYTES) {
      const n = data.readUInt32BE(off);
      if (n > this.maxPayload) throw new FrameTooLargeError(n, this.maxPayload);
      const end = off + HEADER_BYTES + n;
      if (end <= size) {
        this.onFrame(data.subarray(off + HEADER_BYTES, end));
        off = end;
        continue;
      }
      if (n > LARGE_FRAME) {
        const target = Buffer.allocUnsafe(n);
        data.copy(target, 0, off + HEADER_BYTES, size);
        this.large = target;
        this.largeFilled = size - off - HEADER_BYTES;
        return;
      }
      break;
    }
    if (off < size) this.rest = data.subarray(off);
  }

  /**
   * The stream ended: throws a ProtocolError if it stopped in the middle of a frame (a truncated
   * frame), and forgets what was buffered.
   */
  end(): void {
    const pending = this.pendingBytes;
    const expected = this.large?.length;
    this.rest = null;
    this.large = null;
    this.largeFilled = 0;
    if (pending > 0) {
      const what = expected !== undefined ? `a frame of ${expected} bytes` : 'a frame';
      throw new ProtocolError(`the stream ended in the middle of ${what} (${pending} bytes received)`);
    }
  }
}
