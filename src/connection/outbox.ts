/**
 * The frames a host writes to one worker's pipe, gathered per tick. Every frame sent in the same tick
 * of the event loop goes out in one write: small frames are copied into one buffer (a memcpy costs
 * far less than a stream write per frame), and a frame with attachments flushes what is gathered and
 * then writes its parts as they are, so order is kept and large data is never copied. A call to an
 * idle worker is written at once (`sendNow`): there is nothing on its way to that worker to share the
 * write with, and waiting for the end of the tick would only delay it.
 */

import type { Writable } from 'node:stream';
import { FrameParts, type Frame } from '../protocol/frames.js';

/** Gathered bytes past which the outbox writes at once instead of waiting for the end of the tick. */
const FLUSH_BYTES = 64 * 1024;

export class Outbox {
  private frames: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly out: Writable) {}

  send(frame: Frame): void {
    if (frame instanceof FrameParts) {
      this.flush();
      const out = this.out;
      out.cork();
      for (const part of frame.parts) out.write(part);
      out.uncork();
      return;
    }
    this.frames.push(frame);
    this.bytes += frame.length;
    if (this.bytes >= FLUSH_BYTES) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushLater);
    }
  }

  /** Send `frame` and write it at once, with whatever was gathered before it. */
  sendNow(frame: Frame): void {
    if (frame instanceof FrameParts || this.frames.length > 0) {
      this.send(frame);
      this.flush();
      return;
    }
    this.out.write(frame);
  }

  /** Write what is gathered now (before the pipe is ended, for one). */
  flush(): void {
    const frames = this.frames;
    if (frames.length === 0) return;
    this.frames = [];
    const bytes = this.bytes;
    this.bytes = 0;
    this.out.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes));
  }

  private readonly flushLater = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
