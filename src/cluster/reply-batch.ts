/**
 * The replies an agent sends, gathered while more of its calls are running: a reply published alone
 * costs a write to the NATS server's socket (on loopback the write also runs the receiver's side of
 * the network stack), which was half of an agent's CPU time under load. Replies published in one
 * tick go out in one write (nats.js flushes its buffer once per microtask checkpoint), so while other
 * calls are running here a reply waits for the next few, at most `HOLD_MS`. With nothing else
 * running, a reply goes at once: a lone call pays no wait.
 */

import type { Msg } from 'nats';

/** Replies gathered past this count go out at once. */
const HOLD_REPLIES = 16;
/** The longest a reply waits for others. */
const HOLD_MS = 1;

export class ReplyBatch {
  private held: { msg: Msg; data: Uint8Array }[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** @param busy whether other calls are running now (their replies are coming). */
  constructor(private readonly busy: () => boolean) {}

  respond(msg: Msg, data: Uint8Array): void {
    if (this.held.length === 0 && !this.busy()) {
      msg.respond(data);
      return;
    }
    this.held.push({ msg, data });
    if (this.held.length >= HOLD_REPLIES || !this.busy()) this.flush();
    else this.timer ??= setTimeout(this.flush, HOLD_MS);
  }

  /** Publish every held reply now (in one tick, hence one write). */
  readonly flush = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const held = this.held;
    this.held = [];
    for (const { msg, data } of held) msg.respond(data);
  };
}
