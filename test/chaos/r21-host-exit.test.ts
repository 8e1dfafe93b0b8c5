/**
 * R21: close, destroy, SIGTERM and SIGINT to the host; R22: host SIGKILLed, crashed, or killed while
 * its workers start; R24: after close the host exits by itself and the pool is collected. Host exits
 * run in separate Node processes; survivors are found through /proc (every process the host started
 * carries a marker in its environment), with a grandchild under each worker.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlDir, HostProcess, untilEmpty } from '../control.js';
import { START_METHOD, fixture, startPool, waitFor } from '../helpers.js';
import { Scenario, percentile, sleep } from './harness.js';

const ROUNDS = 2;
const ORPHAN_WAIT_MS = 5_000;

interface ExitPath {
  name: string;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Bring the host down; resolves once it has exited. */
  run(h: HostProcess, ctl: ControlDir): Promise<void>;
}

async function ready(h: HostProcess): Promise<void> {
  await h.waitFor('ready');
}

const PATHS: ExitPath[] = [
  { name: 'SIGKILL', run: async (h) => (await ready(h), h.child.kill('SIGKILL'), void (await h.exited)) },
  { name: 'SIGTERM (not handled)', run: async (h) => (await ready(h), h.child.kill('SIGTERM'), void (await h.exited)) },
  { name: 'SIGINT (not handled)', run: async (h) => (await ready(h), h.child.kill('SIGINT'), void (await h.exited)) },
  {
    name: 'SIGTERM handled: graceful',
    config: { handleSignals: true },
    run: async (h) => {
      await ready(h);
      h.send({ cmd: 'busy', n: 2, seconds: 0.8 });
      await h.waitFor('busy-started');
      await sleep(100);
      h.child.kill('SIGTERM');
      const exit = await h.exited;
      assert.equal(exit.signal, 'SIGTERM');
      assert.equal(h.lines.filter((l) => l.event === 'busy-result' && l.value === 'done').length, 2, 'running calls drained');
    },
  },
  {
    name: 'SIGINT handled twice: immediate',
    config: { handleSignals: true },
    run: async (h) => {
      await ready(h);
      h.send({ cmd: 'busy', n: 2, seconds: 60 });
      await h.waitFor('busy-started');
      await sleep(100);
      h.child.kill('SIGINT');
      await sleep(200);
      h.child.kill('SIGINT');
      const exit = await h.exited;
      assert.equal(exit.signal, 'SIGINT');
    },
  },
  { name: 'uncaught exception', run: async (h) => (await ready(h), h.send({ cmd: 'crash' }), void (await h.exited)) },
  { name: 'process.exit()', run: async (h) => (await ready(h), h.send({ cmd: 'exit' }), void (await h.exited)) },
  {
    name: 'natural exit after close (R24)',
    nodeArgs: ['--expose-gc'],
    run: async (h) => {
      await ready(h);
      h.send({ cmd: 'gc-check' });
      const gc = await h.waitFor('gc');
      assert.equal(gc.collected, true, 'the closed pool was garbage-collected');
      const exit = await h.exited;
      assert.equal(exit.code, 0);
    },
  },
  {
    name: 'SIGKILL while workers start (in setup)',
    config: { startupTimeout: 60_000 },
    env: { CHAOS_SETUP_SLEEP: '30' },
    run: async (h, ctl) => {
      await h.waitFor('starting');
      await waitFor(() => ctl.grandchildren().length >= 2, 20_000, 'workers in setup');
      h.child.kill('SIGKILL');
      await h.exited;
    },
  },
  {
    name: 'SIGKILL right after spawning workers',
    config: { startupTimeout: 60_000 },
    env: { CHAOS_SETUP_SLEEP: '30' },
    run: async (h) => {
      await h.waitFor('starting');
      await waitFor(() => h.workers().length >= 1, 20_000, 'a worker process exists');
      h.child.kill('SIGKILL');
      await h.exited;
    },
  },
];

describe('chaos: host exits', () => {
  it('R21: close drains, destroy rejects at once, both idempotent (in process)', async () => {
    const scenario = new Scenario('R21', 'close and destroy');
    const ctl = new ControlDir();
    const destroyLatency: number[] = [];
    try {
      for (let round = 0; round < 3; round++) {
        const pool = await startPool({ adapter: fixture('chaos.py'), size: 2, env: { CHAOS_DIR: ctl.path } });
        const running = Array.from({ length: 2 }, (_, i) => scenario.ledger.track(pool.execute<{ token: string }>('work', { token: `r${round}-${i}`, ms: 300 }), { limitMs: 10_000 }));
        const queued = Array.from({ length: 4 }, (_, i) => scenario.ledger.track(pool.execute<{ token: string }>('work', { token: `q${round}-${i}`, ms: 10 }), { limitMs: 10_000 }));
        const closing = pool.close();
        scenario.fault('close with calls running and queued');
        const late = await scenario.ledger.track(pool.execute('work', {}), { limitMs: 5_000 });
        assert.equal(late.error?.code, 'POOL_CLOSED');
        await Promise.all([closing, pool.close()]);
        for (const r of await Promise.all([...running, ...queued])) assert.ok(r.value, 'close let every accepted call finish');
        await pool.destroy();
        assert.equal(pool.state, 'closed');

        const doomed = await startPool({ adapter: fixture('chaos.py'), size: 2, env: { CHAOS_DIR: ctl.path } });
        const pending = Array.from({ length: 6 }, () => scenario.ledger.track(doomed.execute('hang', { seconds: 60 }), { limitMs: 10_000 }));
        await waitFor(() => doomed.stats().inFlight === 2, 5_000, 'running');
        const t0 = performance.now();
        const destroyed = doomed.destroy();
        scenario.fault('destroy with calls running and queued');
        const outcomes = await Promise.all(pending);
        destroyLatency.push(performance.now() - t0);
        for (const o of outcomes) assert.equal(o.error?.code, 'POOL_CLOSED');
        await Promise.all([destroyed, doomed.destroy(), doomed.close()]);
      }
      await scenario.ledger.drain();
      scenario.figures.destroyToRejection_p50_ms = percentile(destroyLatency, 50);
      scenario.figures.destroyToRejection_p99_ms = percentile(destroyLatency, 99);
      assert.deepEqual(scenario.ledger.failedByCode, { POOL_CLOSED: 3 + 18 });
      scenario.ledger.assertClean('R21');
    } finally {
      scenario.save();
      ctl.dispose();
    }
  });

  it('R21, R22, R24: no worker or grandchild outlives its host, whatever way the host exits', async () => {
    const scenario = new Scenario('R22', 'host exit paths: orphans');
    const toZero: Record<string, number[]> = {};
    try {
      for (const path of PATHS) {
        for (let round = 0; round < ROUNDS; round++) {
          const ctl = new ControlDir();
          const h = new HostProcess(
            {
              adapter: fixture('chaos.py'),
              size: 2,
              stateDir: ctl.sub('state'),
              env: { CHAOS_DIR: ctl.path, CHAOS_GRANDCHILD: '1', ...path.env },
              startMethod: START_METHOD,
              ...path.config,
            },
            path.nodeArgs ?? [],
          );
          try {
            await path.run(h, ctl);
            scenario.fault(`host exit: ${path.name}`);
            const { left, ms } = await untilEmpty(() => h.survivors(), ORPHAN_WAIT_MS);
            scenario.orphans[path.name] = (scenario.orphans[path.name] ?? 0) + left.length;
            (toZero[path.name] ??= []).push(Math.round(ms));
            assert.deepEqual(left, [], `${path.name}: processes left behind`);
          } finally {
            h.killAll();
            ctl.dispose();
          }
        }
      }
      scenario.figures.msUntilNoSurvivor = toZero;
    } finally {
      scenario.save();
    }
  });
});
