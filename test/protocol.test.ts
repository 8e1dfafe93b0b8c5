import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FrameDecoder, FrameTooLargeError } from '../src/protocol/frames.js';
import { JsonCodec, MsgpackCodec } from '../src/protocol/codec.js';
import * as generated from '../src/protocol/generated.js';
import { DEFAULT_MAX_PAYLOAD, ERROR_KINDS, Msg, PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { checkHello } from '../src/protocol/handshake.js';
import { fromWireError } from '../src/protocol/wire-errors.js';
import { PayloadTooLargeError } from '../src/index.js';
import { fixture, rejection, ROOT, startPool } from './helpers.js';

const spec = JSON.parse(readFileSync(path.join(ROOT, 'python', 'snakepit_bridge', 'protocol.json'), 'utf8')) as {
  version: number;
  messages: Record<string, { code: number; from: string; fields: string[] }>;
  error_kinds: string[];
  env: Record<string, { default: unknown }>;
};

const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

describe('protocol definition', () => {
  it('the TypeScript message codes match protocol.json exactly', () => {
    assert.equal(PROTOCOL_VERSION, spec.version);
    const fromJson = Object.fromEntries(Object.entries(spec.messages).map(([name, m]) => [name.toUpperCase(), m.code]));
    assert.deepEqual({ ...Msg }, fromJson);
  });

  it('the generated files are what scripts/gen-protocol.mjs makes of protocol.json', async () => {
    const code = await new Promise<number | null>((resolve) => {
      execFile(process.execPath, [path.join(ROOT, 'scripts', 'gen-protocol.mjs'), '--check'], (err) =>
        resolve(err ? ((err as { code?: number }).code ?? 1) : 0),
      );
    });
    assert.equal(code, 0, 'stale: run node scripts/gen-protocol.mjs');
  });

  it('every builder puts its fields in the order protocol.json defines', () => {
    const builders = generated as unknown as Record<string, (...args: unknown[]) => unknown[]>;
    for (const [name, m] of Object.entries(spec.messages)) {
      const build = builders[`${camel(name)}Message`];
      assert.ok(build, `a builder for ${name}`);
      const fields = m.fields.map((f) => `<${f}>`);
      assert.deepEqual(build(...fields), [m.code, ...fields]);
    }
  });

  it('one maxPayload default for host and worker, from the definition', () => {
    assert.equal(DEFAULT_MAX_PAYLOAD, spec.env.SNAKEPIT_MAX_PAYLOAD!.default);
    assert.equal(DEFAULT_MAX_PAYLOAD, 256 * 1024 * 1024);
  });

  it('every error kind of the definition maps to its own typed error', () => {
    assert.deepEqual([...ERROR_KINDS], spec.error_kinds);
    for (const kind of spec.error_kinds) {
      const err = fromWireError({ kind, type: null, module: null, message: 'm', traceback: '' }, 't', () => [], {});
      assert.doesNotMatch(err.message, /unknown kind/, kind);
    }
    const protocolError = fromWireError({ kind: 'protocol_error', type: null, module: null, message: 'm', traceback: '' }, 't', () => [], {});
    assert.equal(protocolError.code, 'PROTOCOL_ERROR');
  });

  it('a result over maxPayload reaches the host with its size and the limit', async () => {
    const pool = await startPool({ adapter: fixture('data_tools.py'), maxPayload: 64 * 1024 });
    try {
      const err = await rejection(pool.execute('blob', { n: 100_000 }));
      assert.ok(err instanceof PayloadTooLargeError);
      assert.equal(err.limit, 64 * 1024);
      assert.ok(err.size > 100_000, `size ${err.size}`);
      assert.doesNotMatch(err.message, /-1/);
    } finally {
      await pool.destroy();
    }
  });

  it('checkHello accepts a good hello and names what is wrong with a bad one', () => {
    const good = { protocol: PROTOCOL_VERSION, codec: 'msgpack', tools: [], pid: 1 };
    assert.equal(checkHello(good, ['msgpack', 'json']), undefined);
    assert.match(checkHello({ ...good, protocol: 99 }, ['msgpack'])!, /protocol version mismatch: the worker speaks 99/);
    assert.match(checkHello({ ...good, codec: 'json' }, ['msgpack'])!, /codec json/);
    assert.match(checkHello(null, ['msgpack'])!, /no information/);
    assert.match(checkHello({ ...good, tools: 3 }, ['msgpack'])!, /catalogue/);
  });
});

describe('frame decoder', () => {
  it('splits frames however the bytes are chunked', () => {
    const payloads = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('hello world')];
    const stream = Buffer.concat(payloads.map(frame));
    for (const chunkSize of [1, 3, 4, 5, 1000, 65_536, stream.length]) {
      const got: Buffer[] = [];
      const decoder = new FrameDecoder(1 << 20, (p) => got.push(Buffer.from(p)));
      for (let i = 0; i < stream.length; i += chunkSize) decoder.push(stream.subarray(i, i + chunkSize));
      assert.deepEqual(got, payloads, `chunk size ${chunkSize}`);
      assert.equal(decoder.pendingBytes, 0);
    }
  });

  it('refuses a length above the maximum before allocating', () => {
    const decoder = new FrameDecoder(1024, () => assert.fail('no frame expected'));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0xffffffff);
    assert.throws(() => decoder.push(header), (err: unknown) => err instanceof FrameTooLargeError && err.code === 'PROTOCOL_ERROR');
  });
});

describe('codecs', () => {
  for (const codec of [new MsgpackCodec(), new JsonCodec()]) {
    it(`${codec.name}: frames carry their own length and round-trip values and bytes`, () => {
      const message = [21, 7, { s: 'x', n: [1, 2.5, null], b: Buffer.from([1, 2]) }];
      const encoded = codec.encodeFrame(message);
      assert.equal(encoded.readUInt32BE(0), encoded.length - 4);
      const decoded = codec.decode(encoded.subarray(4)) as unknown[];
      assert.deepEqual(decoded.slice(0, 2), [21, 7]);
      const body = decoded[2] as { b: Buffer; n: unknown[] };
      assert.deepEqual(body.n, [1, 2.5, null]);
      assert.deepEqual([...body.b], [1, 2]);
    });

    it(`${codec.name}: garbage is a typed protocol error`, () => {
      assert.throws(() => codec.decode(Buffer.from([0xc1, 0xff, 0x00, 0x7b])), { code: 'PROTOCOL_ERROR' });
    });
  }
});
