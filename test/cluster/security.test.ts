/**
 * TLS to the NATS server (a self-signed certificate made here with openssl), token and user/password
 * authentication, typed errors for bad credentials and bad options, and the agent's command line.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Pool } from '../../src/index.js';
import { AGENT_HELP, agentCommand, parseAgentArgs } from '../../src/cluster/agent-main.js';
import { cli } from '../cli-helpers.js';
import { AgentProcess, NatsServer } from './harness.js';

let dir: string;
let cert: string;
let key: string;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'snakepit-tls-'));
  cert = path.join(dir, 'server.pem');
  key = path.join(dir, 'server.key');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-keyout', key, '-out', cert,
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('TLS with token auth: agent and host connect with the CA; a wrong token or no CA is refused, typed', async () => {
  const server = await new NatsServer({ token: 's3cret', tls: { cert, key } }).start();
  const agent = new AgentProcess({ url: server.url, pool: 'tls', id: 'tls1', extra: ['--tls-ca', cert, '--token', 's3cret'] });
  try {
    await agent.start();
    const pool = await Pool.connect({ nats: { servers: server.url, token: 's3cret', tls: { caFile: cert } }, pool: 'tls' });
    try {
      assert.equal(await pool.execute('add', { a: 20, b: 22 }), 42);
      const data = Buffer.alloc(2 * 1024 * 1024, 3);
      assert.equal(await pool.execute('nbytes', { data }), data.length);
    } finally {
      await pool.close();
    }
    await assert.rejects(Pool.connect({ nats: { servers: server.url, token: 'wrong', tls: { caFile: cert } }, pool: 'tls' }), {
      code: 'CLUSTER_UNAVAILABLE',
    });
    // Without the CA the self-signed certificate is not trusted.
    await assert.rejects(Pool.connect({ nats: { servers: server.url, token: 's3cret', tls: {} }, pool: 'tls' }), { code: 'CLUSTER_UNAVAILABLE' });
  } finally {
    await agent.kill('SIGTERM');
    await server.dispose();
  }
});

test('user/password auth', async () => {
  const server = await new NatsServer({ user: 'app', pass: 'pw' }).start();
  const agent = new AgentProcess({ url: server.url, pool: 'up', id: 'up1', extra: ['--user', 'app', '--pass', 'pw'] });
  try {
    await agent.start();
    const pool = await Pool.connect({ nats: { servers: server.url, user: 'app', pass: 'pw' }, pool: 'up' });
    assert.equal(await pool.execute('add', { a: 1, b: 1 }), 2);
    await pool.close();
    await assert.rejects(Pool.connect({ nats: { servers: server.url, user: 'app', pass: 'no' }, pool: 'up' }), { code: 'CLUSTER_UNAVAILABLE' });
  } finally {
    await agent.kill('SIGTERM');
    await server.dispose();
  }
});

test('Pool.connect validates its options with typed errors naming them', async () => {
  const bad: [unknown, RegExp][] = [
    [undefined, /must be an object/],
    [{ pool: 'p' }, /options.nats is required/],
    [{ nats: { servers: 'nats://x' }, pool: 'a.b' }, /options.pool/],
    [{ nats: { servers: 'nats://x' }, pool: 'p', timeout: -1 }, /options.timeout/],
    [{ nats: { servers: 'nats://x' }, pool: 'p', extra: 1 }, /options.extra is not known/],
    [{ nats: { servers: [] }, pool: 'p' }, /options.nats.servers/],
    [{ nats: { servers: 'nats://x', token: 't', user: 'u', pass: 'p' }, pool: 'p' }, /one of token/],
    [{ nats: { servers: 'nats://x', user: 'u' }, pool: 'p' }, /go together/],
  ];
  for (const [options, message] of bad) {
    await assert.rejects(Pool.connect(options as never), (err: { code?: string; message: string }) => {
      assert.equal(err.code, 'INVALID_OPTIONS');
      assert.match(err.message, message);
      return true;
    });
  }
  // An unreachable server: CLUSTER_UNAVAILABLE naming it.
  await assert.rejects(Pool.connect({ nats: { servers: 'nats://127.0.0.1:1' }, pool: 'p' }), { code: 'CLUSTER_UNAVAILABLE' });
});

test('agent command line: parsing, --help, usage errors', async () => {
  const parsed = parseAgentArgs(['--nats', 'nats://a:1,nats://b:2', '--pool', 'gpu', '--adapter', 't.py', '--size', '3', '--heartbeat=500', '--token', 'x', '--tls-ca', '/ca.pem'], {});
  assert.deepEqual(parsed.options?.nats, { servers: ['nats://a:1', 'nats://b:2'], token: 'x', tls: { caFile: '/ca.pem' } });
  assert.equal(parsed.options?.poolOptions.size, 3);
  assert.equal(parsed.options?.heartbeat, 500);
  const warm = parseAgentArgs(['--nats', 'n', '--pool', 'p', '--adapter', 'a', '--start-method', 'forkserver', '--preload', 'numpy,pandas', '--min-ready=1'], {});
  assert.equal(warm.options?.poolOptions.startMethod, 'forkserver');
  assert.deepEqual(warm.options?.poolOptions.preload, ['numpy', 'pandas']);
  assert.equal(warm.options?.poolOptions.minReady, 1);
  assert.throws(() => parseAgentArgs(['--nats', 'n', '--pool', 'p', '--adapter', 'a', '--start-method', 'fork']), /--start-method must be spawn or forkserver, got "fork"/);
  assert.throws(() => parseAgentArgs(['--nats', 'n', '--pool', 'p', '--adapter', 'a', '--min-ready', '0']), /--min-ready must be a positive integer/);
  assert.equal(parseAgentArgs(['--help']).help, true);
  assert.equal(parseAgentArgs(['--nats', 'n', '--pool', 'p', '--adapter', 'a'], { SNAKEPIT_NATS_TOKEN: 'env' }).options?.nats.token, 'env');
  assert.throws(() => parseAgentArgs(['--pool', 'p', '--adapter', 'a']), /--nats is required/);
  assert.throws(() => parseAgentArgs(['--nats', 'n', '--pool', 'p', '--adapter', 'a', '--size', '0']), /--size must be a positive integer/);
  assert.throws(() => parseAgentArgs(['--bogus', '1']), /unknown option --bogus/);
  assert.match(AGENT_HELP, /snakepit agent --nats/);
  assert.equal(await agentCommand(['--bogus']), 2);
  // The same through the `snakepit` command.
  assert.match(cli(['agent', '--help']).stdout, /^usage: snakepit agent --nats/);
  assert.equal(cli(['agent', '--pool', 'p']).code, 2);
});
