/**
 * An agent with warm starts: `snakepit agent --start-method forkserver --min-ready 1` serves its pool
 * on NATS with workers forked from a zygote, and joins once its first worker is ready.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Pool } from '../../src/index.js';
import { AgentProcess, NatsServer } from './harness.js';

test('an agent started with --start-method forkserver and --min-ready 1 serves calls from forked workers', async () => {
  const server = await new NatsServer().start();
  const agent = new AgentProcess({ url: server.url, pool: 'warm', id: 'warm1', size: 2, extra: ['--start-method', 'forkserver', '--min-ready', '1'] });
  try {
    await agent.start();
    const pool = await Pool.connect({ nats: { servers: server.url }, pool: 'warm' });
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.execute<number>('add', { a: i, b: 1 })));
      assert.deepEqual(results, [1, 2, 3, 4, 5, 6, 7, 8]);
      // `agent_pid` answers the worker's parent: here the zygote the worker was forked from.
      const parent = await pool.execute<number>('agent_pid');
      const cmdline = readFileSync(`/proc/${parent}/cmdline`, 'latin1');
      assert.match(cmdline, /snakepit_bridge\.zygote/, `the worker's parent is the zygote: ${cmdline}`);
    } finally {
      await pool.close();
    }
  } finally {
    await agent.kill('SIGTERM');
    await server.dispose();
  }
});
