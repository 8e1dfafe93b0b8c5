/**
 * The codecs' code, run once on sample messages while the first worker's interpreter starts.
 *
 * V8 compiles a function the first time it runs, and its first runs are the slow ones: a host that
 * starts a worker and then waits for its `hello` has, untouched, the JSON decoder, the handshake's
 * check and the MessagePack encoder and decoder, all needed in turn once `hello` arrives. Run here,
 * right after the spawn, they are compiled while the worker imports its modules (tens of
 * milliseconds the host otherwise spends idle), and the handshake and first call that follow run
 * warm: a single worker answers its first call about 1.2 ms sooner (0.97x, docs/architecture.md).
 * Nothing here has an effect outside this module.
 */

import { makeCodec, JsonCodec, type Codec } from './codec.js';
import { FrameDecoder, frameBytes, MAX_FRAME_PAYLOAD } from './frames.js';
import { checkHello } from './handshake.js';
import { callMessage, helloMessage, pingMessage, PROTOCOL_VERSION, resultMessage, type HelloInfo } from './generated.js';

let warmed = false;

/** A message through `codec` and back, its frame read as a connection reads the pipe. */
function roundTrip(codec: Codec, message: unknown): unknown {
  let decoded: unknown;
  const frames = new FrameDecoder(MAX_FRAME_PAYLOAD, (payload) => (decoded = codec.decode(payload)));
  frames.push(frameBytes(codec.encode(message)));
  frames.end();
  return decoded;
}

/** The sample messages of the warm-up: the handshake's and a first call's, in the order they occur. */
export function sampleMessages(): { hello: unknown; msgpack: unknown[] } {
  const info: HelloInfo = {
    protocol: PROTOCOL_VERSION,
    pid: 1,
    python: '3.11.0',
    implementation: 'CPython',
    codec: 'msgpack',
    codecs: ['msgpack', 'json'],
    numpy: false,
    adapter: 'adapter.py',
    concurrency: 1,
    tools: [
      {
        name: 'tool',
        doc: '',
        params: [{ name: 'a', type: 'int', required: true, kind: 'positional_or_keyword' }],
        returns: 'int',
        async: false,
        stream: false,
      },
    ],
  };
  const value = { a: 1, b: 'text', c: [1.5, true, null], d: -2 };
  return {
    hello: helloMessage(info),
    msgpack: [pingMessage(1), callMessage(1, 'tool', value, 1000, null, 0), resultMessage(1, value)],
  };
}

/**
 * Encode and decode each sample message with the codec that carries it, check the sample hello as a
 * host checks a worker's; returns what was decoded. Throws if the sample hello is refused.
 */
export function rehearseCodecs(): { hello: unknown; msgpack: unknown[] } {
  const samples = sampleMessages();
  const hello = roundTrip(new JsonCodec(), samples.hello) as [string, unknown];
  const problem = checkHello(hello[1], ['msgpack', 'json']);
  if (problem !== undefined) throw new Error(`the warm-up's sample hello is refused: ${problem}`);
  const msgpack = makeCodec('msgpack');
  return { hello, msgpack: samples.msgpack.map((m) => roundTrip(msgpack, m)) };
}

/** Rehearse the codecs once per process (later calls do nothing). Never throws. */
export function warmCodecs(): void {
  if (warmed) return;
  warmed = true;
  try {
    rehearseCodecs();
  } catch {
    // A warm-up that fails leaves the code cold, nothing else (test/warm-up.test.ts keeps it passing).
  }
}
