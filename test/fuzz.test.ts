/**
 * Fuzzing of the frame decoder and both codecs: whatever bytes arrive, the result is a value or a
 * typed protocol error (never another exception, a hang or an outsized allocation). And values of
 * every mapped kind survive a round trip through a real Python worker.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Decimal, NDArray, ProtocolError, type Pool } from '../src/index.js';
import { JsonCodec, MsgpackCodec, type Codec } from '../src/protocol/codec.js';
import { Ext } from '../src/protocol/data-format.js';
import { FrameDecoder, FrameTooLargeError, frameBytes } from '../src/protocol/frames.js';
import { fixture, startPool } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const codecs: Codec[] = [new MsgpackCodec(), new JsonCodec()];

/** Decoding gives a value or a ProtocolError, and nothing else. */
function decodeOrProtocolError(codec: Codec, bytes: Uint8Array): void {
  try {
    codec.decode(Buffer.from(bytes));
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`${codec.name} threw ${String(err)}`, { cause: err });
  }
}

// ------------------------------------------------------------------ values

const primitive = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.maxSafeInteger(),
  fc.double(),
  fc.fullUnicodeString({ maxLength: 20 }),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
);

const hashable = fc.oneof(fc.integer(), fc.fullUnicodeString({ maxLength: 8 }));
const dateInRange = fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
const decimalText = fc.oneof(
  fc.constantFrom('0', '-0', '1.10', 'NaN', '-Infinity', '1E+3', '123456789012345678901234567890.5'),
  fc.tuple(fc.integer(), fc.nat(999)).map(([a, b]) => `${a}.${b}`),
);

const special = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.float64Array({ maxLength: 10 }),
  fc.int32Array({ maxLength: 10 }),
  fc.bigInt64Array({ maxLength: 4 }),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 })).map(([r, c]) => new NDArray(new Int16Array(r * c).map((_, i) => i - 3), [r, c])),
  dateInRange,
  decimalText.map((t) => new Decimal(t)),
  fc.array(hashable, { maxLength: 5 }).map((items) => new Set(items)),
);

const { value: wireValue } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, primitive, special, tie('array'), tie('object'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.oneof(fc.fullUnicodeString({ maxLength: 6 }), fc.constantFrom('$bytes', '$x', '__proto__')), tie('value'), { maxKeys: 4 }),
  map: fc.array(fc.tuple(fc.integer(), tie('value')), { minLength: 1, maxLength: 3 }).map((entries) => new Map<unknown, unknown>(entries)),
}));

/** What a value looks like after a trip to Python and back. */
function normalize(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof Buffer) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (value instanceof NDArray || value instanceof Date || value instanceof Decimal) return value;
  if (ArrayBuffer.isView(value)) return new NDArray(value as Float64Array);
  if (value instanceof Set) return new Set([...value].map(normalize));
  if (value instanceof Map) {
    const entries = [...value].map(([k, v]) => [normalize(k), normalize(v)] as const);
    if (entries.every(([k]) => typeof k === 'string')) return normalize(Object.fromEntries(entries));
    return new Map(entries);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) Object.defineProperty(out, k, { value: normalize(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

// ------------------------------------------------------------------ frames

describe('fuzz: frame decoder', () => {
  it('random chunks give frames no larger than the maximum, or FrameTooLargeError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }), (chunks) => {
        const max = 512;
        const decoder = new FrameDecoder(max, (payload) => assert.ok(payload.length <= max));
        try {
          for (const chunk of chunks) {
            decoder.push(Buffer.from(chunk));
            assert.ok(decoder.pendingBytes <= max + 4, 'buffered bytes stay bounded');
          }
        } catch (err) {
          assert.ok(err instanceof FrameTooLargeError, String(err));
        }
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('however valid frames are split, the same payloads come out', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p) => Buffer.concat([Buffer.from([0, 0, p.length >> 8, p.length & 0xff]), p])));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const got: Buffer[] = [];
          const decoder = new FrameDecoder(1 << 16, (p) => got.push(Buffer.from(p)));
          let last = 0;
          for (const point of [...points, stream.length]) {
            decoder.push(stream.subarray(last, point));
            last = point;
          }
          decoder.end();
          assert.deepEqual(got, payloads.map((p) => Buffer.from(p)));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('an absurd length is refused as soon as its header is complete', () => {
    for (const n of [0xffffffff, 0x80000000, 1 << 20 + 1]) {
      const decoder = new FrameDecoder(1 << 20, () => assert.fail('no frame'));
      const header = Buffer.alloc(4);
      header.writeUInt32BE(n >>> 0);
      decoder.push(header.subarray(0, 3));
      assert.throws(() => decoder.push(header.subarray(3)), FrameTooLargeError);
    }
  });
});

// ------------------------------------------------------------------ codecs

for (const codec of codecs) {
  describe(`fuzz: ${codec.name} decoder`, () => {
    it('random bytes decode to a value or a ProtocolError', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => decodeOrProtocolError(codec, bytes)), { numRuns: RUNS * 3 });
    });

    it('truncated, bit-flipped and length-corrupted encodings give a value or a ProtocolError', () => {
      fc.assert(
        fc.property(wireValue, fc.nat(), fc.nat(255), fc.constantFrom('truncate', 'flip', 'huge', 'insert'), (value, at, byte, how) => {
          let bytes: Buffer;
          try {
            bytes = Buffer.from(frameBytes(codec.encode([21, 1, value])).subarray(4));
          } catch {
            return; // values the generator made that have no mapping are not the subject here
          }
          const i = at % Math.max(1, bytes.length);
          if (how === 'truncate') bytes = bytes.subarray(0, i);
          else if (how === 'flip') bytes[i] = byte;
          else if (how === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
          else bytes.fill(0xff, i, Math.min(i + 4, bytes.length));
          decodeOrProtocolError(codec, bytes);
        }),
        { numRuns: RUNS },
      );
    });

    it('deep nesting is refused without exhausting the stack', () => {
      const depth = 200_000;
      const deep = codec.name === 'msgpack' ? Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]) : Buffer.from('['.repeat(depth) + ']'.repeat(depth));
      assert.throws(() => codec.decode(deep), ProtocolError);
    });
  });
}

describe('fuzz: MessagePack specifics', () => {
  const codec = new MsgpackCodec();

  it('absurd container and string lengths are refused before allocating', () => {
    for (const hex of ['dd ffffffff', 'df ffffffff', 'db ffffffff 61', 'c6 ffffffff', 'c9 ffffffff 01', 'dc ffff c0']) {
      assert.throws(() => codec.decode(Buffer.from(hex.replace(/ /g, ''), 'hex')), ProtocolError, hex);
    }
  });

  it('invalid extension payloads give a value or a ProtocolError', () => {
    const types = [Ext.TIMESTAMP, Ext.NDARRAY, Ext.BYTES_REF, Ext.BIGINT, Ext.DECIMAL, Ext.SET, Ext.DATE, 0, 7, 42, -2, 127, -128];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 64 }), (type, data) => {
        const bytes = Buffer.concat([Buffer.from([0xc7, data.length, type & 0xff]), data]);
        decodeOrProtocolError(codec, bytes);
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('corrupted attachment tables give a value or a ProtocolError', () => {
    const frame = Buffer.from(frameBytes(codec.encode([Buffer.alloc(70_000, 1), new Float64Array(9000)])).subarray(4));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), fc.nat(255), (at, byte) => {
        const copy = Buffer.from(frame);
        copy[at] = byte;
        decodeOrProtocolError(codec, copy);
      }),
      { numRuns: RUNS },
    );
  });

  it('nested sets beyond the depth limit are refused', () => {
    let bytes = Buffer.from([0x90]);
    for (let i = 0; i < 3000; i++) {
      const wrapped = Buffer.concat([Buffer.from([0x91]), bytes]);
      const header = Buffer.alloc(6);
      header[0] = 0xc9;
      header.writeUInt32BE(wrapped.length, 1);
      header[5] = Ext.SET;
      bytes = Buffer.concat([header, wrapped]);
    }
    assert.throws(() => codec.decode(bytes), ProtocolError);
  });

  it('encoded values decode to what they stand for', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        const out = codec.decode(frameBytes(codec.encode(value)).subarray(4));
        assert.deepStrictEqual(out, normalize(value));
      }),
      { numRuns: RUNS },
    );
  });
});

// ------------------------------------------------------------------ through Python

for (const name of ['msgpack', 'json'] as const) {
  describe(`fuzz: round trip through a Python worker (${name})`, () => {
    let pool: Pool;
    before(async () => {
      pool = await startPool({ adapter: fixture('data_tools.py'), codec: name });
    });
    after(() => pool.destroy());

    it('every generated value comes back as it went', async () => {
      await fc.assert(
        fc.asyncProperty(wireValue, async (value) => {
          assert.deepStrictEqual(await pool.execute('echo', { value }), normalize(value));
        }),
        { numRuns: Math.ceil(RUNS / 2) },
      );
    });
  });
}
