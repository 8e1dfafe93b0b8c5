/** The codecs' warm-up (src/protocol/warm-up.ts): its samples are valid messages that survive a round trip. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rehearseCodecs, sampleMessages } from '../src/protocol/warm-up.js';

describe('codec warm-up', () => {
  it('decodes each sample message as it was sent, the hello accepted as a worker hello', () => {
    const samples = sampleMessages();
    const back = rehearseCodecs();
    assert.deepEqual(back.hello, samples.hello);
    assert.equal(back.msgpack.length, 3);
    assert.deepEqual(back.msgpack, samples.msgpack);
  });
});
