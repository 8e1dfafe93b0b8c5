/** Pure logic of the serving layer: cache keys, problem statuses, the OpenAPI type mapping. */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decimal, NDArray, STATUS_BY_CODE, ERROR_CODES } from '../src/index.js';
import { cacheKey } from '../src/serving/cache-key.js';
import { schemaOf } from '../src/serving/gateway/openapi.js';
import { fromJson, toJson } from '../src/serving/gateway/json.js';
import { decodeBase64 } from '../src/protocol/base64.js';

describe('cache keys', () => {
  it('are canonical: object key order does not matter, values do', () => {
    assert.equal(cacheKey({ a: 1, b: [1, 2] }), cacheKey({ b: [1, 2], a: 1 }));
    assert.notEqual(cacheKey({ a: 1 }), cacheKey({ a: '1' }));
    assert.notEqual(cacheKey({ a: 1 }), cacheKey({ a: 1n }));
    assert.notEqual(cacheKey({ a: [1, 2] }), cacheKey({ a: [2, 1] }));
    assert.equal(cacheKey({ a: 1, u: undefined }), cacheKey({ a: 1 }));
    assert.equal(cacheKey(undefined), cacheKey({}));
  });

  it('key bytes, arrays, decimals and dates by value; refuse what they cannot key', () => {
    assert.equal(cacheKey({ b: new Uint8Array([1, 2]) }), cacheKey({ b: Buffer.from([1, 2]) }));
    assert.notEqual(cacheKey({ b: new Uint8Array([1, 2]) }), cacheKey({ b: new Uint8Array([1, 3]) }));
    const a = new NDArray(new Float64Array([1, 2, 3, 4]), [2, 2]);
    assert.equal(cacheKey({ a }), cacheKey({ a: new NDArray(new Float64Array([1, 2, 3, 4]), [2, 2]) }));
    assert.notEqual(cacheKey({ a }), cacheKey({ a: new NDArray(new Float64Array([1, 2, 3, 4]), [4]) }));
    assert.notEqual(cacheKey({ d: new Decimal('1.0') }), cacheKey({ d: new Decimal('1.00') }));
    assert.equal(cacheKey({ t: new Date(5) }), cacheKey({ t: new Date(5) }));
    assert.equal(cacheKey({ m: new Map() }), undefined);
    assert.equal(cacheKey({ f: () => 1 }), undefined);
  });

  it('hash long keys', () => {
    const key = cacheKey({ s: 'x'.repeat(1000) })!;
    assert.ok(key.startsWith('#') && key.length < 60);
    assert.notEqual(key, cacheKey({ s: 'x'.repeat(999) }));
  });
});

describe('gateway pure logic', () => {
  it('maps every error code to an HTTP status', () => {
    for (const code of ERROR_CODES) assert.ok(STATUS_BY_CODE[code] !== undefined, code);
  });

  it('maps Python annotations to JSON Schema', () => {
    assert.deepEqual(schemaOf('int'), { type: 'integer' });
    assert.deepEqual(schemaOf('list[str]'), { type: 'array', items: { type: 'string' } });
    assert.deepEqual(schemaOf('dict[str, list[float]]'), { type: 'object', additionalProperties: { type: 'array', items: { type: 'number' } } });
    assert.deepEqual(schemaOf('Optional[int]'), { anyOf: [{ type: 'integer' }, { type: 'null' }] });
    assert.deepEqual(schemaOf('int | str | None'), { anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'null' }] });
    assert.deepEqual(schemaOf("Literal['a', 'b', 3]"), { enum: ['a', 'b', 3] });
    assert.deepEqual(schemaOf('tuple[int, str]'), { type: 'array', prefixItems: [{ type: 'integer' }, { type: 'string' }], minItems: 2, maxItems: 2 });
    assert.deepEqual(schemaOf('SomethingElse'), {});
    assert.deepEqual(schemaOf(null), {});
  });

  it('writes JSON that never throws on BigInt, bytes or arrays, and reads $bytes back', () => {
    const text = toJson({ big: 2n ** 64n, small: 5n, bytes: Buffer.from('hi'), arr: new NDArray(new Int32Array([1, 2])) });
    assert.deepEqual(JSON.parse(text), { big: '18446744073709551616', small: 5, bytes: { $bytes: 'aGk=' }, arr: { $ndarray: { dtype: 'int32', shape: [2], data: [1, 2] } } });
    const back = fromJson('{"b": {"$bytes": "aGk="}, "o": {"$bytes": "x", "other": 1}}') as { b: Uint8Array; o: unknown };
    assert.deepEqual(Buffer.from(back.b).toString(), 'hi');
    assert.deepEqual(back.o, { $bytes: 'x', other: 1 });
  });

  it('refuses a $bytes that is not base64 instead of reading fewer bytes', () => {
    for (const [text, message] of [
      ['{"b": {"$bytes": "!!!"}}', /holds a string of 3 characters that is not base64/],
      ['{"b": {"$bytes": "aGk=x"}}', /not base64/],
      ['{"b": {"$bytes": "a"}}', /not base64/],
      ['{"b": {"$bytes": 5}}', /must hold base64 text, got number/],
      ['{"b": {"$bytes": null}}', /must hold base64 text, got null/],
    ] as const) {
      assert.throws(() => fromJson(text), { code: 'INVALID_ARGUMENTS', message }, text);
    }
  });

  it('decodeBase64: both alphabets, padding optional but only at the end', () => {
    const ok = (text: string): string | undefined => decodeBase64(text)?.toString('hex');
    assert.equal(ok(''), '');
    assert.equal(ok('aGk='), '6869');
    assert.equal(ok('aGk'), '6869');
    assert.equal(ok('-_-_'), 'fbffbf');
    assert.equal(ok('+/+/'), ok('-_-_'));
    for (const bad of ['!', 'aGk==', 'a', 'aGk=aGk=', 'aG k', 'aGk\n', '=aGk', 'aGk===']) assert.equal(decodeBase64(bad), undefined, JSON.stringify(bad));
  });
});
