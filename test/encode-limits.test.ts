/**
 * maxPayload bounds the work of encoding on both sides and with both codecs (reliability.md R30), and
 * the encoder never sends a string altered (Node 20's `buf.write` returns 0 when the buffer extends
 * more than 2^31-1 bytes past the offset).
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PayloadTooLargeError, type Pool } from '../src/index.js';
import { JsonCodec } from '../src/protocol/codec.js';
import { decodeMsgpack } from '../src/protocol/msgpack-decode.js';
import { EncodeLimitError, MsgpackEncoder } from '../src/protocol/msgpack-encode.js';
import { HEADER_BYTES, frameBytes } from '../src/protocol/frames.js';
import { fixture, rejection, startPool } from './helpers.js';

const MiB = 1024 * 1024;

function scratch(encoder: MsgpackEncoder): Buffer {
  return (encoder as unknown as { buf: Buffer }).buf;
}

describe('encoder: never an altered string', () => {
  it('strings are written whole when the scratch buffer is over 2 GiB (virtual memory only)', () => {
    const encoder = new MsgpackEncoder();
    (encoder as unknown as { buf: Buffer }).buf = Buffer.allocUnsafe(2 ** 31 + MiB);
    const value = ['x'.repeat(48), 'short', '€uro', 'é'.repeat(40)];
    const frame = frameBytes(encoder.encodeFrame(value));
    assert.deepEqual(decodeMsgpack(frame.subarray(HEADER_BYTES)), value);
  });

  it('a failed encode does not keep an oversized scratch buffer', () => {
    const encoder = new MsgpackEncoder();
    assert.throws(() => encoder.encodeFrame(['z'.repeat(8 * MiB), Symbol('no encoding')]), /JavaScript type symbol/);
    assert.ok(scratch(encoder).length <= MiB, `scratch buffer kept at ${scratch(encoder).length} bytes`);
    assert.throws(() => encoder.encodeFrame({ s: 'z'.repeat(8 * MiB) }, MiB), EncodeLimitError);
    assert.ok(scratch(encoder).length <= MiB);
    assert.deepEqual(decodeMsgpack(frameBytes(encoder.encodeFrame(['ok', 'ü'.repeat(30)])).subarray(HEADER_BYTES)), ['ok', 'ü'.repeat(30)]);
  });
});

describe('encoder: the limit bounds the work', () => {
  for (const [name, encode] of [
    ['msgpack', (v: unknown, limit: number) => new MsgpackEncoder().encodeFrame(v, limit)],
    ['json', (v: unknown, limit: number) => new JsonCodec().encode(v, limit)],
  ] as const) {
    it(`${name}: an array of 2^32-1 holes is refused before it is walked`, () => {
      assert.throws(() => encode({ v: new Array(2 ** 32 - 1) }, MiB), EncodeLimitError);
    });

    it(`${name}: encoding stops at the limit, before what follows it`, () => {
      const err = (() => {
        try {
          encode({ a: 'x'.repeat(2 * MiB), b: Symbol('never reached') }, MiB);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.ok(err instanceof EncodeLimitError, `got ${String(err)}`);
    });

    it(`${name}: a value just under the limit still encodes`, () => {
      const frame = encode({ a: 'x'.repeat(MiB - 64) }, MiB);
      assert.ok(frame.length - HEADER_BYTES <= MiB);
    });
  }

  it('a 50 MB string against a 1 MiB limit allocates no large buffer', () => {
    const encoder = new MsgpackEncoder();
    const big = 'q'.repeat(50e6);
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => encoder.encodeFrame({ big }, MiB), EncodeLimitError);
    assert.ok(process.memoryUsage().arrayBuffers - before < 8 * MiB);
  });
});

for (const codec of ['msgpack', 'json'] as const) {
  describe(`maxPayload end to end (${codec})`, () => {
    let pool: Pool;
    before(async () => {
      pool = await startPool({ adapter: fixture('payloads.py'), size: 1, maxPayload: MiB, codec });
    });
    after(() => pool.destroy());

    it('the host refuses an argument of 2^32-1 elements at once with PAYLOAD_TOO_LARGE', async () => {
      const err = await rejection(pool.execute('lengths', { items: new Array(2 ** 32 - 1) }));
      assert.ok(err instanceof PayloadTooLargeError, err.message);
    });

    it('the host stops encoding an argument at the limit', async () => {
      const err = await rejection(pool.execute('lengths', { items: ['x'.repeat(2 * MiB)], after: Symbol('x') } as never));
      assert.ok(err instanceof PayloadTooLargeError, err.message);
    });

    it('the worker stops encoding a result at the limit, and a stream chunk too', async () => {
      for (const err of [
        await rejection(pool.execute('big_then_unencodable', { n: 2 * MiB })),
        await rejection(pool.execute('many_then_unencodable', { count: 64, size: 64 * 1024 })),
      ]) {
        assert.equal(err.code, 'PAYLOAD_TOO_LARGE', err.message);
      }
      const chunks: unknown[] = [];
      const err = await rejection((async () => {
        for await (const chunk of pool.stream('stream_big_then_unencodable', { n: 2 * MiB })) chunks.push(chunk);
      })());
      assert.equal(err.code, 'PAYLOAD_TOO_LARGE', err.message);
      assert.deepEqual(chunks, ['small']);
    });

    it('a 2 GiB result is PAYLOAD_TOO_LARGE at the default maxPayload, and the worker lives on', async () => {
      const big = await startPool({ adapter: fixture('payloads.py'), size: 1, codec });
      try {
        const pid = big.stats().workerList[0]!.pid;
        const err = await rejection(big.execute('huge_string', { gib: 2 }));
        assert.equal(err.code, 'PAYLOAD_TOO_LARGE', err.message);
        assert.equal(await big.execute('lengths', { items: ['ok'] }).then(() => big.stats().workerList[0]!.pid), pid, 'same worker');
      } finally {
        await big.destroy();
      }
    });

    it('strings arrive whole afterwards', async () => {
      assert.deepEqual(await pool.execute('lengths', { items: ['a'.repeat(48), 'short', '€uro'] }), [48, 5, 4]);
    });
  });
}
