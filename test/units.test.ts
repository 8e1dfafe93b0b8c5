import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PassThrough, Writable } from 'node:stream';
import { Controllers } from '../src/cluster/controllers.js';
import { Connection, type ConnectionOwner } from '../src/connection/connection.js';
import { Outbox } from '../src/connection/outbox.js';
import { JsonCodec, makeCodec } from '../src/protocol/codec.js';
import { Msg } from '../src/protocol/messages.js';
import { sampleMessages } from '../src/protocol/warm-up.js';
import { Histogram } from '../src/pool/histogram.js';
import { CallQueue } from '../src/scheduling/queue.js';
import { checkCallOptions } from '../src/call-options.js';
import { resolvePoolOptions } from '../src/options.js';
import { InvalidOptionsError } from '../src/index.js';
import { fixture } from './helpers.js';

describe('histogram', () => {
  it('reports percentiles within a few percent', () => {
    const h = new Histogram();
    for (let i = 1; i <= 1000; i++) h.record(i);
    const s = h.summary();
    assert.equal(s.count, 1000);
    assert.equal(s.min, 1);
    assert.equal(s.max, 1000);
    assert.ok(Math.abs(s.p50 - 500) / 500 < 0.04, `p50 ${s.p50}`);
    assert.ok(Math.abs(s.p99 - 990) / 990 < 0.04, `p99 ${s.p99}`);
    assert.ok(Math.abs(s.mean - 500.5) < 1e-9);
    assert.deepEqual(new Histogram().summary().p99, 0);
  });
});

describe("an agent's abort controllers", () => {
  it('reuses a settled call\'s controller only when it was not aborted and nothing listens on it', () => {
    const controllers = new Controllers(2);
    const clean = controllers.take();
    controllers.give(clean);
    assert.equal(controllers.take(), clean, 'a clean controller is used again');
    const aborted = controllers.take();
    aborted.abort(new Error('cancelled'));
    controllers.give(aborted);
    const listened = controllers.take();
    const listener = (): void => {};
    listened.signal.addEventListener('abort', listener);
    controllers.give(listened);
    const next = controllers.take();
    assert.notEqual(next, aborted);
    assert.notEqual(next, listened);
    assert.equal(next.signal.aborted, false);
    // At most `max` are kept.
    const many = [controllers.take(), controllers.take(), controllers.take()];
    for (const c of many) controllers.give(c);
    const back = new Set([controllers.take(), controllers.take(), controllers.take()]);
    assert.equal([...back].filter((c) => many.includes(c)).length, 2);
  });
});

describe('call queue', () => {
  it('is FIFO, skips removed entries and tracks its peak', () => {
    const q = new CallQueue<{ dequeued: boolean; n: number }>();
    const items = Array.from({ length: 5 }, (_, n) => ({ dequeued: true, n }));
    for (const item of items) q.push(item);
    assert.equal(q.length, 5);
    assert.equal(q.remove(items[1]!), true);
    assert.equal(q.remove(items[1]!), false);
    assert.deepEqual([q.shift()?.n, q.shift()?.n], [0, 2]);
    assert.deepEqual(q.drain().map((i) => i.n), [3, 4]);
    assert.equal(q.length, 0);
    assert.equal(q.peak, 5);
    assert.equal(q.shift(), undefined);
  });
});

describe('pool options', () => {
  const adapter = fixture('basic.py');
  const bad = (options: unknown, pattern: RegExp) =>
    assert.throws(() => resolvePoolOptions(options), (err: unknown) => err instanceof InvalidOptionsError && pattern.test(err.message));

  it('normalises and freezes', () => {
    const o = resolvePoolOptions({ adapter, size: 2 });
    assert.ok(Object.isFrozen(o));
    assert.equal(o.size, 2);
    assert.equal(o.concurrency, 1);
    assert.deepEqual(o.codecs, ['msgpack', 'json']);
    assert.equal(o.adapter, adapter);
    assert.deepEqual(resolvePoolOptions({ adapter, codec: 'json' }).codecs, ['json']);
    assert.equal(resolvePoolOptions({ adapter: `${adapter}:Basic` }).adapter, `${adapter}:Basic`);
    assert.equal(resolvePoolOptions({ adapter: 'some.module:Thing' }).adapter, 'some.module:Thing');
  });

  it('names the option in every error', () => {
    bad(null, /options must be an object/);
    bad({}, /options\.adapter must be a non-empty string/);
    bad({ adapter: '' }, /options\.adapter/);
    bad({ adapter: './nope.py' }, /options\.adapter: file not found/);
    bad({ adapter, size: 0 }, /options\.size must be an integer from 1 to 1024, got 0/);
    bad({ adapter, size: 1.5 }, /options\.size/);
    bad({ adapter, size: '2' }, /options\.size.*"2"/);
    bad({ adapter, concurrency: 0 }, /options\.concurrency/);
    bad({ adapter, maxQueue: -1 }, /options\.maxQueue/);
    bad({ adapter, queueTimeout: -5 }, /options\.queueTimeout/);
    bad({ adapter, timeout: Number.NaN }, /options\.timeout/);
    bad({ adapter, startupTimeout: 0 }, /options\.startupTimeout/);
    bad({ adapter, startupConcurrency: 0 }, /options\.startupConcurrency/);
    bad({ adapter, maxPayload: 10 }, /options\.maxPayload/);
    bad({ adapter, maxPayload: 2 ** 33 }, /options\.maxPayload/);
    bad({ adapter, cancelGrace: -1 }, /options\.cancelGrace/);
    bad({ adapter, killGrace: -1 }, /options\.killGrace/);
    bad({ adapter, streamWindow: 0 }, /options\.streamWindow/);
    bad({ adapter, codec: 'xml' }, /options\.codec/);
    bad({ adapter, python: '' }, /options\.python/);
    bad({ adapter, cwd: '/no/such/dir' }, /options\.cwd does not exist/);
    bad({ adapter, cwd: 5 }, /options\.cwd/);
    bad({ adapter, env: { A: 1 } }, /options\.env\.A must be a string/);
    bad({ adapter, env: 'x' }, /options\.env/);
    bad({ adapter, env: { 'A=B': 'x' } }, /options\.env: "A=B" is not a variable name \(empty, or has "=" or NUL\)/);
    bad({ adapter, env: { '': 'x' } }, /options\.env: "" is not a variable name/);
    bad({ adapter, env: { A: 'x\0y' } }, /options\.env\.A has a NUL character/);
    bad({ adapter, cwd: adapter }, /options\.cwd is not a directory: /);
    bad({ adapter: fixture('.') }, /options\.adapter is a directory, not a Python file: /);
    bad({ adapter, sise: 2 }, /options\.sise is not a pool option/);
  });

  it('checks call options', () => {
    assert.equal(checkCallOptions(undefined, 100), 100);
    assert.equal(checkCallOptions({ timeout: 5 }, 100), 5);
    assert.equal(checkCallOptions({ timeout: 0 }, 100), 0);
    assert.throws(() => checkCallOptions(5, 1), /call options must be an object/);
    assert.throws(() => checkCallOptions({ idleTimeout: -1 }, 1), /idleTimeout/);
    assert.throws(() => checkCallOptions({ window: 0 }, 1), /window/);
    assert.throws(() => checkCallOptions({ collect: 'yes' }, 1), /collect must be a boolean/);
  });
});

describe('outbox', () => {
  /** A stream that records each write it is given (the outbox's writes, one per element). */
  function recorder(): { out: Writable; writes: string[] } {
    const writes: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        writes.push(chunk.toString());
        done();
      },
    });
    return { out, writes };
  }

  it('gathers the frames of one tick into one write', async () => {
    const { out, writes } = recorder();
    const box = new Outbox(out);
    box.send(Buffer.from('a'));
    box.send(Buffer.from('b'));
    assert.deepEqual(writes, []);
    await new Promise((r) => process.nextTick(r));
    assert.deepEqual(writes, ['ab']);
  });

  it('sendNow writes at once, after what was gathered before it, in order', () => {
    const { out, writes } = recorder();
    const box = new Outbox(out);
    box.sendNow(Buffer.from('x'));
    assert.deepEqual(writes, ['x'], 'nothing gathered: written at once');
    box.send(Buffer.from('a'));
    box.sendNow(Buffer.from('b'));
    assert.deepEqual(writes, ['x', 'ab'], 'written with the frame gathered before it, in one write');
  });
});

describe('connection handshake', () => {
  /** A connection on an in-memory channel: what it writes, and what it tells its owner. */
  function connect(): { input: PassThrough; writes: Buffer[]; events: string[] } {
    const writes: Buffer[] = [];
    const events: string[] = [];
    const output = new Writable({
      write(chunk: Buffer, _enc, done) {
        writes.push(chunk);
        done();
      },
    });
    const input = new PassThrough();
    const owner = {
      onReady: () => events.push('ready'),
      onBadHello: (problem: string) => events.push(`bad: ${problem}`),
      onBroken: (err: Error) => events.push(`broken: ${err.message}`),
      onBusy: () => {},
    } as unknown as ConnectionOwner;
    const conn = new Connection({ workerId: 1, maxPayload: 1 << 20, codecs: ['msgpack', 'json'] }, owner);
    conn.attach({ input, output, ref: () => {}, unref: () => {} });
    return { input, writes, events };
  }
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('writes its ping in JSON at once, and is ready at hello followed by the answer to it', async () => {
    const { input, writes, events } = connect();
    assert.equal(writes.length, 1, 'the ping is written before anything is read');
    const ping = JSON.parse(writes[0]!.subarray(4).toString()) as [number, number];
    assert.equal(writes[0]!.readUInt32BE(0), writes[0]!.length - 4);
    assert.equal(ping[0], Msg.PING);
    const json = new JsonCodec();
    const msgpack = makeCodec('msgpack');
    input.write(json.encodeFrame([Msg.PONG, ping[1]]));
    await tick();
    assert.deepEqual(events, [], 'an answer before hello does not make the worker ready');
    input.write(json.encodeFrame(sampleMessages().hello));
    input.write(msgpack.encodeFrame([Msg.PONG, ping[1] + 1]));
    await tick();
    assert.deepEqual(events, [], 'nor does an answer to another ping');
    input.write(msgpack.encodeFrame([Msg.PONG, ping[1]]));
    await tick();
    assert.deepEqual(events, ['ready']);
    assert.equal(writes.length, 1, 'nothing more is written for the handshake');
  });
});
