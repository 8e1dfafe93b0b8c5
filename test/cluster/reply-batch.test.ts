/** The agent's reply batching (src/cluster/reply-batch.ts), as pure logic: stand-in messages. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Msg } from 'nats';
import { ReplyBatch } from '../../src/cluster/reply-batch.js';

function recorder(): { sent: string[]; msg: (name: string) => Msg } {
  const sent: string[] = [];
  return { sent, msg: (name) => ({ respond: () => (sent.push(name), true) }) as unknown as Msg };
}
const bytes = new Uint8Array(1);

describe('agent reply batching', () => {
  it('a reply with nothing else running goes at once', () => {
    const r = recorder();
    const batch = new ReplyBatch(() => false);
    batch.respond(r.msg('a'), bytes);
    assert.deepEqual(r.sent, ['a']);
  });

  it('replies wait while other calls run, and go together, in order, once none does', () => {
    const r = recorder();
    let busy = true;
    const batch = new ReplyBatch(() => busy);
    batch.respond(r.msg('a'), bytes);
    batch.respond(r.msg('b'), bytes);
    assert.deepEqual(r.sent, []);
    busy = false;
    batch.respond(r.msg('c'), bytes);
    assert.deepEqual(r.sent, ['a', 'b', 'c']);
  });

  it('sixteen held replies go at once; fewer go after at most a millisecond', async () => {
    const r = recorder();
    const batch = new ReplyBatch(() => true);
    for (let i = 0; i < 16; i++) batch.respond(r.msg(String(i)), bytes);
    assert.equal(r.sent.length, 16);
    batch.respond(r.msg('late'), bytes);
    assert.equal(r.sent.length, 16);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(r.sent.slice(16), ['late']);
  });

  it('flush sends what is held and disarms the timer', async () => {
    const r = recorder();
    const batch = new ReplyBatch(() => true);
    batch.respond(r.msg('a'), bytes);
    batch.flush();
    assert.deepEqual(r.sent, ['a']);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(r.sent, ['a']);
  });
});
