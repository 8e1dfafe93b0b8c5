/**
 * Heartbeat bookkeeping for one worker. The pool's supervision tick sends a ping when none is
 * outstanding; the worker's I/O thread answers with a pong even while a tool holds an executor
 * thread, so only a process that is stopped, deadlocked in its reader, or stuck in native code holding
 * the GIL leaves a ping unanswered. A ping unanswered for longer than the timeout means wedged.
 */

export class Heartbeat {
  private nonce = 0;
  /** When the outstanding ping was sent (performance.now()), or undefined when none is outstanding. */
  sentAt: number | undefined;
  /** Round-trip time of the last answered ping, in milliseconds. */
  lastRtt: number | undefined;
  lastPongAt: number | undefined;
  /** Pings sent and answered over the worker's life. */
  sent = 0;
  answered = 0;

  /** Returns the nonce of a new ping to send, or undefined if one is already outstanding. */
  next(now: number): number | undefined {
    if (this.sentAt !== undefined) return undefined;
    this.sentAt = now;
    this.sent++;
    // Heartbeat nonces are negative so they never collide with the handshake's positive nonce.
    this.nonce = -(1 + (this.sent % 0x3fffffff));
    return this.nonce;
  }

  /** A pong arrived; true if it answers the outstanding ping. */
  pong(nonce: unknown, now: number): boolean {
    if (this.sentAt === undefined || nonce !== this.nonce) return false;
    this.lastRtt = now - this.sentAt;
    this.lastPongAt = now;
    this.sentAt = undefined;
    this.answered++;
    return true;
  }

  /** Milliseconds the outstanding ping has waited, or 0. */
  waiting(now: number): number {
    return this.sentAt === undefined ? 0 : now - this.sentAt;
  }

  /**
   * The host itself was stalled (its timers ran late), so a late answer proves nothing: restart the
   * clock of the outstanding ping.
   */
  forgive(now: number): void {
    if (this.sentAt !== undefined) this.sentAt = now;
  }
}
