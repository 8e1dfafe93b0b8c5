/** The codecs as pure logic: wire format, attachments, limits and validation of the data types. */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { JsonCodec, MsgpackCodec } from '../src/protocol/codec.js';
import {
  ATTACHMENT_ALIGN,
  ATTACHMENT_MARKER,
  ATTACHMENT_MIN,
  Ext,
  MAX_ENCODE_DEPTH,
  NDARRAY_ATTACHED,
  bigintToBytes,
  bytesToBigint,
} from '../src/protocol/data-format.js';
import { Decimal } from '../src/protocol/decimal.js';
import { FrameDecoder, FrameParts, frameBytes, type Frame } from '../src/protocol/frames.js';
import { decodeMsgpack } from '../src/protocol/msgpack-decode.js';
import { DTYPES, NDArray, wireDType } from '../src/protocol/ndarray.js';
import { ROOT } from './helpers.js';

const msgpack = new MsgpackCodec();
const json = new JsonCodec();

function payload(frame: Frame): Buffer {
  const bytes = frameBytes(frame);
  assert.equal(bytes.readUInt32BE(0), bytes.length - 4, 'the header holds the payload length');
  return bytes.subarray(4);
}

function hex(frame: Frame): string {
  return payload(frame).toString('hex');
}

describe('shared protocol definition', () => {
  it('agrees with the data section of protocol.json', () => {
    const spec = JSON.parse(readFileSync(path.join(ROOT, 'python', 'snakepit_bridge', 'protocol.json'), 'utf8')) as {
      data: Record<string, unknown> & { ext: Record<string, number>; dtypes: string[] };
    };
    const { data } = spec;
    assert.deepEqual(data.ext, {
      timestamp: Ext.TIMESTAMP,
      ndarray: Ext.NDARRAY,
      bytes_ref: Ext.BYTES_REF,
      bigint: Ext.BIGINT,
      decimal: Ext.DECIMAL,
      set: Ext.SET,
      date: Ext.DATE,
      table: Ext.TABLE,
    });
    assert.equal(data.attachment_marker, ATTACHMENT_MARKER);
    assert.equal(data.attachment_align, ATTACHMENT_ALIGN);
    assert.equal(data.attachment_min, ATTACHMENT_MIN);
    assert.equal(data.ndarray_attached, NDARRAY_ATTACHED);
    assert.equal(data.max_encode_depth, MAX_ENCODE_DEPTH);
    assert.deepEqual(data.dtypes, [...DTYPES.values()].map((d) => d.code));
  });
});

describe('MessagePack encoding', () => {
  it('writes standard MessagePack that other implementations read', () => {
    assert.equal(hex(msgpack.encode([1, 'a', null, true, false])), '9501a161c0c3c2');
    assert.equal(hex(msgpack.encode({ k: -1 })), '81a16bff');
    assert.equal(hex(msgpack.encode(1.5)), 'cb3ff8000000000000');
    assert.equal(hex(msgpack.encode(-0)), 'cb8000000000000000', '-0 keeps its sign as a float');
    assert.equal(hex(msgpack.encode(255)), 'ccff');
    assert.equal(hex(msgpack.encode(-129)), 'd1ff7f');
    assert.equal(hex(msgpack.encode(2 ** 32)), 'cf0000000100000000');
    assert.equal(hex(msgpack.encode(-(2 ** 40))), 'd3ffffff0000000000');
    assert.equal(hex(msgpack.encode(2 ** 53)), 'cb4340000000000000', 'integers past 2^53 are floats');
    assert.equal(hex(msgpack.encode(2n ** 64n - 1n)), 'cfffffffffffffffff');
    assert.equal(hex(msgpack.encode(Buffer.from([1, 2]))), 'c4020102');
    assert.equal(hex(msgpack.encode(new Date(1000))), 'd6ff00000001', 'timestamp 32');
    assert.equal(hex(msgpack.encode(new Date(1500))), 'd7ff7735940000000001', 'timestamp 64');
    assert.equal(hex(msgpack.encode(new Date(-1))), 'c70cff3b8b87c0ffffffffffffffff', 'timestamp 96');
  });

  it('refuses a string with a lone surrogate instead of sending U+FFFD in its place', () => {
    for (const [value, where] of [
      ['a\uD800b', 'U+D800 at index 1'],
      ['\uDC00', 'U+DC00 at index 0'],
      [{ ['key\uDBFF']: 1 }, 'U+DBFF at index 3'],
      ['x'.repeat(30) + '\uD83D', 'U+D83D at index 30'],
    ] as const) {
      assert.throws(() => msgpack.encode(value), { code: 'ENCODE_ERROR', message: new RegExp(`lone surrogate \\(${where.replace('+', '\\+')}\\)`) }, where);
    }
    assert.equal(decodeMsgpack(payload(msgpack.encode('é😀'))), 'é😀', 'a surrogate pair is one character');
    assert.throws(() => json.encode({ v: ['a\uD800'] }), { code: 'ENCODE_ERROR', message: /U\+D800 at index 1/ }, 'the JSON codec too');
    assert.throws(() => json.encode({ ['\uDC00']: 1 }), { code: 'ENCODE_ERROR', message: /U\+DC00 at index 0/ }, 'and object keys');
  });

  it('reads every MessagePack format', () => {
    const cases: [string, unknown][] = [
      ['c0', null],
      ['7f', 127],
      ['e0', -32],
      ['cc80', 128],
      ['cd0100', 256],
      ['ce00010000', 65536],
      ['cf001fffffffffffff', Number.MAX_SAFE_INTEGER],
      ['cf0020000000000000', 2n ** 53n],
      ['d080', -128],
      ['d18000', -32768],
      ['d280000000', -(2 ** 31)],
      ['d3ffe0000000000001', Number.MIN_SAFE_INTEGER],
      ['d38000000000000000', -(2n ** 63n)],
      ['ca3fc00000', 1.5],
      ['d90161', 'a'],
      ['da000161', 'a'],
      ['db0000000161', 'a'],
      ['c50001ff', Buffer.from([255])],
      ['c6000000020102', Buffer.from([1, 2])],
      ['dc000101', [1]],
      ['dd0000000101', [1]],
      ['de0001a16101', { a: 1 }],
      ['df00000001a16101', { a: 1 }],
      ['d6ff00000000', new Date(0)],
      ['c7060380ffffffffff', BigInt.asIntN(48, 0x80ffffffffffn)],
    ];
    for (const [bytes, value] of cases) {
      assert.deepEqual(decodeMsgpack(Buffer.from(bytes, 'hex')), value, bytes);
    }
  });

  it('maps with keys that are not all strings become a Map, in order', () => {
    const map = decodeMsgpack(Buffer.from('83a16201a16102' + '0103', 'hex'));
    assert.deepEqual(map, new Map<unknown, unknown>([['b', 1], ['a', 2], [1, 3]]));
  });

  it('a __proto__ key is an own property, never the prototype', () => {
    const obj = decodeMsgpack(Buffer.from('81a95f5f70726f746f5f5f81a178c3', 'hex')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.deepEqual(Object.keys(obj), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  it('big integers use minimal two\'s complement bytes', () => {
    for (const n of [0n, 1n, -1n, 127n, 128n, -128n, -129n, 2n ** 64n, -(2n ** 64n), 2n ** 1000n - 1n, -(2n ** 999n)]) {
      assert.equal(bytesToBigint(bigintToBytes(n)), n);
    }
    assert.deepEqual([...bigintToBytes(128n)], [0, 128]);
    assert.deepEqual([...bigintToBytes(-128n)], [128]);
    const ext = payload(msgpack.encode(2n ** 64n));
    assert.equal(ext[0], 0xc7);
    assert.equal(ext[2], Ext.BIGINT);
  });

  it('frames do not share memory: an encoded frame survives the next encode', () => {
    const first = frameBytes(msgpack.encode(['first', 1]));
    const copy = Buffer.from(first);
    for (let i = 0; i < 2000; i++) msgpack.encode(['x'.repeat(i % 100), i]);
    msgpack.encode({ big: 'y'.repeat(2_000_000) });
    assert.deepEqual(first, copy);
  });

  it('a toJSON that encodes while being encoded gets an encoder of its own', () => {
    class Nested {
      toJSON(): unknown {
        return { inner: decodeMsgpack(payload(msgpack.encode(['inside']))) };
      }
    }
    const nested = new Nested();
    assert.deepEqual(msgpack.decode(payload(msgpack.encode([1, nested, 2]))), [1, { inner: ['inside'] }, 2]);
  });

  it('an encode error leaves the encoder usable', () => {
    assert.throws(() => msgpack.encode(['a'.repeat(100_000), Symbol('x')]), { code: 'ENCODE_ERROR' });
    assert.deepEqual(msgpack.decode(payload(msgpack.encode(['ok']))), ['ok']);
  });
});

describe('attachments', () => {
  it('large binary values are written from the caller memory, aligned, after the message', () => {
    const bytes = Buffer.alloc(ATTACHMENT_MIN, 1);
    const floats = new Float64Array(ATTACHMENT_MIN / 8 + 3).fill(2.5);
    const frame = msgpack.encode([21, 1, { bytes, floats, small: Buffer.from([7]) }]);
    assert.ok(frame instanceof FrameParts);
    assert.equal(frame.parts[1], bytes, 'the Buffer itself is a part: no copy');
    const floatPart = frame.parts.find((p) => p.buffer === floats.buffer);
    assert.ok(floatPart !== undefined, 'the Float64Array memory is a part: no copy');
    const data = payload(frame);
    assert.equal(data[0], ATTACHMENT_MARKER);
    const bodyEnd = 5 + data.readUInt32BE(1);
    const count = data.readUInt32BE(bodyEnd);
    assert.equal(count, 2);
    for (let i = 0; i < count; i++) assert.equal(data.readUInt32BE(bodyEnd + 4 + 8 * i) % ATTACHMENT_ALIGN, 0);
    // Decode from a fresh aligned buffer, as the frame decoder delivers large frames.
    const aligned = Buffer.from(new Uint8Array(data).buffer);
    const out = msgpack.decode(aligned) as [number, number, { bytes: Buffer; floats: NDArray<'float64'>; small: Buffer }];
    assert.deepEqual(out[2].bytes, bytes);
    assert.equal(out[2].bytes.buffer, aligned.buffer, 'received bytes are a view');
    assert.equal(out[2].floats.data.buffer, aligned.buffer, 'received arrays are a view');
    assert.equal(out[2].floats.data[floats.length - 1], 2.5);
    assert.deepEqual(out[2].small, Buffer.from([7]));
  });

  it('an array whose bytes are misaligned in the received buffer is copied, with the same values', () => {
    const floats = new Float64Array(ATTACHMENT_MIN / 8).map((_, i) => i);
    const data = payload(msgpack.encode(floats));
    const shifted = Buffer.alloc(data.length + 1).subarray(1);
    data.copy(shifted);
    const out = msgpack.decode(shifted) as NDArray<'float64'>;
    assert.notEqual(out.data.buffer, shifted.buffer);
    assert.deepEqual(out.data, floats);
  });

  it('a message over 4 GiB is refused with a typed error before anything is written', () => {
    const gib = new Uint8Array(new ArrayBuffer(2 ** 30)); // never touched: no memory is committed
    assert.throws(() => msgpack.encode([gib, gib, gib, gib]), { code: 'PAYLOAD_TOO_LARGE' });
  });

  it('big-endian arrays from the wire are converted to host order', () => {
    const body = Buffer.concat([
      Buffer.from([0xc7, 1 + 1 + 3 + 1 + 8 + 8, Ext.NDARRAY, 0, 3]),
      Buffer.from('>i4', 'latin1'),
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 2]),
      Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]),
    ]);
    const arr = decodeMsgpack(body) as NDArray<'int32'>;
    assert.deepEqual([...arr.data], [1, 2]);
  });
});

describe('data types', () => {
  it('NDArray validates its data, shape and dtype', () => {
    const a = new NDArray(new Float32Array(6), [2, 3]);
    assert.equal(a.dtype, 'float32');
    assert.equal(a.ndim, 2);
    assert.equal(a.size, 6);
    assert.throws(() => new NDArray(new Float32Array(6), [4]), /shape \[4\] holds 4 elements but the data has 6/);
    assert.throws(() => new NDArray(new Float32Array(1), [-1]), /non-negative integers/);
    assert.throws(() => new NDArray(new Float32Array(1), [1.5] as number[]), TypeError);
    assert.throws(() => new NDArray([1, 2] as unknown as Float64Array), /must be a TypedArray/);
    assert.throws(() => new NDArray(new Float32Array(1), [1], 'float64' as 'float32'), /needs its data in a Float64Array/);
    assert.throws(() => new NDArray(new Uint8Array(1), [1], 'complex' as 'uint8'), /dtype "complex" is not supported/);
    assert.throws(() => new NDArray(new Uint8ClampedArray(1) as unknown as Uint8Array), /Uint8ClampedArray is not supported/);
    assert.equal(new NDArray(new Uint8Array(2), [2], 'bool').dtype, 'bool');
    assert.equal(new NDArray(new Uint8Array(2)).dtype, 'uint8');
    assert.equal(wireDType(DTYPES.get('float64')!), '<f8');
  });

  it('Decimal keeps the exact text and refuses what Python cannot parse', () => {
    assert.equal(new Decimal('1.10').value, '1.10');
    assert.equal(new Decimal(' -0 ').value, '-0');
    assert.equal(new Decimal(12n).value, '12');
    assert.equal(new Decimal(-0).value, '-0');
    assert.equal(new Decimal(Infinity).value, 'Infinity');
    assert.equal(new Decimal('1e3').toNumber(), 1000);
    assert.ok(Number.isNaN(new Decimal('sNaN').toNumber()));
    assert.equal(new Decimal('-inf').toNumber(), -Infinity);
    assert.equal(JSON.stringify({ d: new Decimal('2.50') }), '{"d":"2.50"}');
    assert.throws(() => new Decimal('1,5'), SyntaxError);
    assert.throws(() => new Decimal(''), SyntaxError);
    assert.throws(() => new Decimal(null as unknown as string), TypeError);
  });
});

describe('JSON codec', () => {
  it('tags what JSON cannot say, and escapes user objects that look like tags', () => {
    const text = (v: unknown): string => payload(json.encode(v)).toString('utf8');
    assert.equal(text([NaN, Infinity, -0, 1e21]), '[{"$float":"NaN"},{"$float":"Infinity"},{"$float":"-0"},{"$float":"1e+21"}]');
    assert.equal(text(2n ** 64n), '{"$bigint":"0x10000000000000000"}');
    assert.equal(text(-(2n ** 64n)), '{"$bigint":"-0x10000000000000000"}');
    assert.equal(text(Buffer.from('hi')), '{"$bytes":"aGk="}');
    assert.equal(text({ $bytes: 'x' }), '{"$object":[["$bytes","x"]]}');
    assert.equal(text(new Map([[1, 2]])), '{"$map":[[1,2]]}');
    assert.equal(text(new Int16Array([1, 2])), '{"$ndarray":["<i2",[2],"AQACAA=="]}');
    assert.equal(text(new Date(Date.UTC(2020, 0, 2))), '{"$datetime":"2020-01-02T00:00:00.000Z"}');
    assert.equal(text({ a: undefined, b: [undefined] }), '{"b":[null]}');
  });

  it('reads tags back, including escaped objects and dates from Python', () => {
    const read = (text: string): unknown => json.decode(Buffer.from(text));
    assert.deepEqual(read('{"$object":[["$set",{"$bytes":"aGk="}]]}'), { $set: Buffer.from('hi') });
    assert.deepEqual(read('{"$datetime":"2024-02-29T12:30:45.123456Z"}'), new Date('2024-02-29T12:30:45.123Z'));
    assert.deepEqual(read('{"$datetime":"2024-01-01T01:00:00+02:00"}'), new Date('2023-12-31T23:00:00Z'));
    assert.deepEqual(read('{"$date":"0001-01-01"}'), new Date('0001-01-01T00:00:00Z'));
    assert.deepEqual(read('{"$bigint":"-0xff"}'), -255n);
    assert.deepEqual(read('{"$set":[1,1,2]}'), new Set([1, 2]));
    for (const bad of ['{"$nope":1}', '{"$bigint":"12"}', '{"$ndarray":["<f8",[2],"AAAA"]}', '{"$datetime":"yesterday"}', '{"$map":[1]}', '[', '{"$ndarray":["<c16",[1],""]}', '{"$bytes":"!!!"}', '{"$bytes":1}', '{"$ndarray":["<i2",[2],"AQAC!A=="]}', '{"$arrow":"*"}']) {
      assert.throws(() => read(bad), { code: 'PROTOCOL_ERROR' }, bad);
    }
  });
});

describe('frame decoder', () => {
  it('a stream that ends inside a frame is a protocol error', () => {
    const decoder = new FrameDecoder(1 << 20, () => {});
    decoder.push(Buffer.from([0, 0, 0, 10, 1, 2]));
    assert.throws(() => decoder.end(), { code: 'PROTOCOL_ERROR', message: /ended in the middle of a frame \(6 bytes/ });
    const large = new FrameDecoder(1 << 20, () => {});
    large.push(Buffer.concat([Buffer.from([0, 2, 0, 0]), Buffer.alloc(1000)]));
    assert.throws(() => large.end(), /a frame of 131072 bytes/);
    const clean = new FrameDecoder(1 << 20, () => {});
    clean.push(Buffer.from([0, 0, 0, 1, 9]));
    clean.end();
  });
});
