import assert from 'node:assert/strict';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { describe, it } from 'node:test';
import { InvalidOptionsError } from '../src/index.js';
import { checkCallOptions } from '../src/call-options.js';
import { defaultStateDir, resolvePoolOptions } from '../src/options.js';
import { checkEventsOptions } from '../src/pool/event-iterator.js';
import { fixture } from './helpers.js';

const base = { adapter: fixture('basic.py') };
const resolve = (extra: Record<string, unknown>) => resolvePoolOptions({ ...base, ...extra });

function rejects(extra: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => resolve(extra),
    (err: unknown) => err instanceof InvalidOptionsError && pattern.test(err.message),
    `expected ${JSON.stringify(extra)} to be rejected with ${pattern}`,
  );
}

describe('supervision options', () => {
  it('have documented defaults', () => {
    const o = resolve({});
    assert.deepEqual(o.restart, { backoffInitial: 100, backoffMax: 10_000, jitter: 0.2, maxFailures: 10, window: 60_000, stableAfter: 10_000 });
    assert.equal(o.heartbeatInterval, 2_000);
    assert.equal(o.heartbeatTimeout, 10_000);
    assert.equal(o.maxRequests, 0);
    assert.equal(o.ttl, 0);
    assert.equal(o.maxRss, 0);
    assert.equal(o.memoryLimit, 0);
    assert.equal(o.retries, 2);
    assert.equal(o.stateDir, defaultStateDir());
    assert.equal(o.handleSignals, false);
    assert.ok(Object.isFrozen(o.restart));
  });

  it('restart: must be an object of known keys with valid numbers', () => {
    rejects({ restart: 5 }, /^options\.restart must be an object/);
    rejects({ restart: [] }, /^options\.restart must be an object/);
    rejects({ restart: { backof: 1 } }, /options\.restart\.backof is not a restart option/);
    rejects({ restart: { backoffInitial: -1 } }, /options\.restart\.backoffInitial must be an integer >= 0/);
    rejects({ restart: { backoffMax: 1.5 } }, /options\.restart\.backoffMax must be an integer >= 0/);
    rejects({ restart: { backoffInitial: 500, backoffMax: 100 } }, /options\.restart\.backoffMax \(100\) must be >= options\.restart\.backoffInitial \(500\)/);
    rejects({ restart: { jitter: 1.5 } }, /options\.restart\.jitter must be a number from 0 to 1/);
    rejects({ restart: { jitter: 'x' } }, /options\.restart\.jitter/);
    rejects({ restart: { maxFailures: 0 } }, /options\.restart\.maxFailures must be an integer >= 1/);
    rejects({ restart: { window: 0 } }, /options\.restart\.window must be an integer >= 1/);
    rejects({ restart: { stableAfter: -5 } }, /options\.restart\.stableAfter must be an integer >= 0/);
    const r = resolve({ restart: { backoffInitial: 0, backoffMax: 0, jitter: 0, maxFailures: 1, window: 1, stableAfter: 0 } }).restart;
    assert.deepEqual(r, { backoffInitial: 0, backoffMax: 0, jitter: 0, maxFailures: 1, window: 1, stableAfter: 0 });
  });

  it('heartbeatInterval and heartbeatTimeout', () => {
    rejects({ heartbeatInterval: -1 }, /^options\.heartbeatInterval must be an integer >= 0/);
    rejects({ heartbeatTimeout: 0 }, /^options\.heartbeatTimeout must be an integer >= 1/);
    rejects({ heartbeatInterval: 1000, heartbeatTimeout: 500 }, /options\.heartbeatTimeout \(500\) must be >= options\.heartbeatInterval \(1000\)/);
    assert.equal(resolve({ heartbeatInterval: 0, heartbeatTimeout: 5 }).heartbeatInterval, 0, 'no conflict when heartbeats are off');
  });

  it('maxRequests, ttl, maxRss', () => {
    rejects({ maxRequests: -1 }, /^options\.maxRequests must be an integer >= 0/);
    rejects({ maxRequests: 2.5 }, /^options\.maxRequests/);
    rejects({ ttl: '1s' }, /^options\.ttl must be an integer >= 0, got "1s"/);
    rejects({ maxRss: -100 }, /^options\.maxRss must be an integer >= 0/);
    rejects({ recycleWait: -1 }, /^options\.recycleWait must be an integer >= 0/);
    assert.equal(resolve({}).recycleWait, 60_000);
    assert.equal(resolve({ recycleWait: 0 }).recycleWait, 0);
    const o = resolve({ maxRequests: 10, ttl: 60_000, maxRss: 500 * 1024 * 1024 });
    assert.equal(o.maxRequests, 10);
    assert.equal(o.ttl, 60_000);
    assert.equal(o.maxRss, 500 * 1024 * 1024);
  });

  it('memoryLimit: 0 or at least 64 MiB', () => {
    rejects({ memoryLimit: 1024 }, /^options\.memoryLimit must be 0 \(no limit\) or at least 67108864 bytes/);
    rejects({ memoryLimit: -1 }, /^options\.memoryLimit must be an integer >= 0/);
    assert.equal(resolve({ memoryLimit: 64 * 1024 * 1024 }).memoryLimit, 64 * 1024 * 1024);
  });

  it('retries: an integer from 0 to 100', () => {
    rejects({ retries: -1 }, /^options\.retries must be an integer from 0 to 100/);
    rejects({ retries: 101 }, /^options\.retries must be an integer from 0 to 100/);
    assert.equal(resolve({ retries: 0 }).retries, 0);
  });

  it('stateDir: a non-empty string (made absolute) or false', () => {
    rejects({ stateDir: '' }, /^options\.stateDir must be a non-empty string or false/);
    rejects({ stateDir: true }, /^options\.stateDir must be a non-empty string or false, got true/);
    rejects({ stateDir: 7 }, /^options\.stateDir/);
    assert.equal(resolve({ stateDir: false }).stateDir, false);
    assert.equal(resolve({ stateDir: 'rel/dir' }).stateDir, path.resolve('rel/dir'));
  });

  it('the default state dir follows XDG_RUNTIME_DIR, else the temp folder and uid', () => {
    const saved = process.env.XDG_RUNTIME_DIR;
    try {
      process.env.XDG_RUNTIME_DIR = '/run/user/1234';
      assert.equal(defaultStateDir(), '/run/user/1234/snakepit');
      delete process.env.XDG_RUNTIME_DIR;
      assert.equal(defaultStateDir(), path.join(tmpdir(), `snakepit-${process.getuid!()}`));
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });

  it('handleSignals: a boolean', () => {
    rejects({ handleSignals: 'yes' }, /^options\.handleSignals must be a boolean, got "yes"/);
    assert.equal(resolve({ handleSignals: true }).handleSignals, true);
  });

  it('call option idempotent: a boolean', () => {
    assert.throws(() => checkCallOptions({ idempotent: 1 }, 0), /call option idempotent must be a boolean/);
    assert.equal(checkCallOptions({ idempotent: true, timeout: 5 }, 0), 5);
  });

  it('events options: known types and a bounded buffer', () => {
    assert.deepEqual(checkEventsOptions(undefined).bufferSize, 1024);
    assert.ok(!checkEventsOptions(undefined).types.includes('log'));
    assert.throws(() => checkEventsOptions({ bufferSize: 0 }), /events option bufferSize must be an integer from 1 to 1000000/);
    assert.throws(() => checkEventsOptions({ types: [] }), /events option types must be a non-empty array/);
    assert.throws(() => checkEventsOptions({ types: ['workerExit', 'nope'] }), /unknown event type "nope"/);
    assert.throws(() => checkEventsOptions({ size: 3 }), /events option size is not known/);
    assert.throws(() => checkEventsOptions(5), /events options must be an object/);
    assert.deepEqual(checkEventsOptions({ types: ['log'], bufferSize: 3 }), { types: ['log'], bufferSize: 3 });
  });
});
