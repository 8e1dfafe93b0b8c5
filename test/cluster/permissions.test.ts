/**
 * The sample server configuration (docs/cluster-nats.conf) works as documented: an agent and a host
 * with their restricted users serve and call the pool (calls, streams, host tools, bulk parts,
 * sessions), and a host user cannot pose as an agent.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { connect } from 'nats';
import { Pool } from '../../src/index.js';
import { ROOT } from '../helpers.js';
import { AgentProcess, freePort } from './harness.js';

test('the sample server configuration: restricted agent and host users work; a host cannot serve', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snakepit-perm-'));
  const port = await freePort();
  const conf = readFileSync(path.join(ROOT, 'docs', 'cluster-nats.conf'), 'utf8')
    .replace(/^listen: .*$/m, `listen: 127.0.0.1:${port}`)
    .replace(/store_dir: .*$/m, `store_dir: "${path.join(dir, 'js')}"`)
    .replace(/^tls \{[^}]*\}\n/m, '');
  const file = path.join(dir, 'server.conf');
  writeFileSync(file, conf);
  const server = spawn('nats-server', ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const url = `nats://127.0.0.1:${port}`;
  const agent = new AgentProcess({ url, pool: 'gpu', id: 'g1', extra: ['--user', 'gpu-agent', '--pass', 'change-me-agent'] });
  try {
    const until = Date.now() + 10_000;
    while (!log.includes('Server is ready')) {
      if (Date.now() > until) throw new Error(`nats-server did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await agent.start();
    const pool = await Pool.connect({ nats: { servers: url, user: 'web', pass: 'change-me-host' }, pool: 'gpu' });
    try {
      pool.registerTool('lookup', ({ key }) => `v-${String(key)}`);
      assert.equal(await pool.execute('add', { a: 1, b: 2 }), 3);
      assert.equal(await pool.execute('ask_host', { key: 'k' }), 'v-k');
      const chunks: number[] = [];
      for await (const c of pool.stream<number>('count', { n: 5 })) chunks.push(c);
      assert.deepEqual(chunks, [0, 1, 2, 3, 4]);
      assert.equal(await pool.execute('nbytes', { data: Buffer.alloc(3_000_000) }), 3_000_000);
      assert.equal(((await pool.execute('make_bytes', { n: 2_000_000 })) as Uint8Array).length, 2_000_000);
      const s = pool.session();
      assert.equal(((await s.execute('incr')) as { n: number }).n, 1);
      await s.close();
    } finally {
      await pool.close();
    }
    // The host user may not subscribe to an agent's call subject.
    const nc = await connect({ servers: url, user: 'web', pass: 'change-me-host' });
    try {
      const sub = nc.subscribe('snakepit.gpu.fake.call');
      const refused = await Promise.race([
        sub.closed.then(() => true, () => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
      ]);
      assert.ok(refused, 'subscription refused');
    } finally {
      await nc.close().catch(() => {});
    }
  } finally {
    await agent.kill('SIGTERM');
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
