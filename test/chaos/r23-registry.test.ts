/**
 * R23: a new host starts after an earlier one died: leftovers of the dead run are reaped; a pid that
 * now belongs to another process is never touched; a live host's workers are never touched.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { processStartTime, readStat } from '../../src/worker/procfs.js';
import { ControlDir, HostProcess, running } from '../control.js';
import { START_METHOD, TEST_SANDBOX, fixture, startPool, waitFor } from '../helpers.js';
import { Scenario, sleep } from './harness.js';

describe('chaos: leftovers of dead runs', () => {
  it('R23: the next pool reaps a dead run, spares reused pids and live hosts', async () => {
    const scenario = new Scenario('R23', 'reaping leftovers of a dead host');
    const ctl = new ControlDir();
    const stateDir = ctl.sub('state');
    const hostConfig = { adapter: fixture('chaos.py'), size: 2, stateDir, startMethod: START_METHOD, env: { CHAOS_DIR: ctl.path, CHAOS_GRANDCHILD: '1' } };
    const live = new HostProcess(hostConfig);
    const dying = new HostProcess(hostConfig);
    const decoy = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const liveReady = await live.waitFor('ready');
      const dyingReady = await dying.waitFor('ready');
      const livePids = liveReady.pids as number[];
      const [stopped] = dyingReady.pids as number[];
      // A stopped worker cannot act on its lifeline: when its host dies it is left over, with its grandchild.
      process.kill(stopped!, 'SIGSTOP');
      // In fork-server mode the zygote kills its workers when its host dies: stop it too (it is the
      // stopped worker's parent), so that both are left over for the run registry to reap.
      const zygote = START_METHOD === 'forkserver' ? readStat(stopped!)?.ppid : undefined;
      if (zygote !== undefined) process.kill(zygote, 'SIGSTOP');
      // Both stopped for certain (state T) before the host goes: a signal is acted on when its target next runs.
      await waitFor(() => [stopped!, ...(zygote === undefined ? [] : [zygote])].every((pid) => readStat(pid)?.state === 'T'));
      const before = processStates(stopped!, zygote);
      dying.child.kill('SIGKILL');
      await dying.exited;
      scenario.fault('host SIGKILLed with a stopped worker');
      await sleep(1_500);
      const leftovers = dying.survivors();
      scenario.figures.leftoversBeforeReap = leftovers.length;
      if (TEST_SANDBOX) {
        // Sandboxed, the worker's sandbox goes with its host even stopped: bwrap (--die-with-parent)
        // is killed by the parent-death signal, and with it the sandbox's pid namespace. Nothing is
        // left for the next start to reap; it must still spare the reused pid and the live host.
        assert.deepEqual(leftovers, [], 'the stopped sandboxed worker went with its host');
      } else {
        // What the processes looked like before the host was killed and now, should this ever fail.
        const states = `before the kill: ${before}; now: ${processStates(stopped!, zygote)}; leftovers ${JSON.stringify(leftovers)}`;
        assert.ok(leftovers.includes(stopped!), `the stopped worker was left over (${states})`);
        assert.ok(leftovers.length >= 2, 'with its grandchild');
      }
      // A dead run whose recorded worker pid now belongs to another program (start time differs).
      const gone = Number(spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim());
      await waitFor(() => processStartTime(decoy.pid!) !== undefined);
      writeFileSync(
        path.join(stateDir, `${gone}-reused.json`),
        JSON.stringify({ version: 1, hostPid: gone, hostStart: 1, runId: 'reused', workers: [{ pid: decoy.pid, start: processStartTime(decoy.pid!)! + 7 }] }),
      );
      scenario.fault('dead run listing a reused pid');

      const pool = await startPool({ adapter: fixture('chaos.py'), size: 1, stateDir });
      try {
        const { left } = await (async () => {
          const until = performance.now() + 5_000;
          let rest = dying.survivors();
          while (rest.length > 0 && performance.now() < until) {
            await sleep(20);
            rest = dying.survivors();
          }
          return { left: rest };
        })();
        scenario.orphans['dead host with a stopped worker, after the next start'] = left.length;
        assert.deepEqual(left, [], 'leftovers reaped');
        if (!TEST_SANDBOX) assert.ok(pool.stats().reaped >= 1);
        assert.ok(running(decoy.pid!), 'the reused pid was not touched');
        for (const pid of livePids) assert.ok(running(pid), 'a live host keeps its workers');
        live.send({ cmd: 'call', tool: 'pid', args: {} });
        const result = await live.waitFor('result');
        // A sandboxed worker reports its worker id for a pid (test/fixtures/chaos.py, `_pid`).
        assert.ok(TEST_SANDBOX ? typeof result.value === 'number' : livePids.includes(result.value as number), 'the live host still works');
        scenario.figures.reapedAtStart = pool.stats().reaped;
        scenario.figures.reusedPidTouched = !running(decoy.pid!);
        scenario.figures.liveHostWorkersTouched = livePids.filter((p) => !running(p)).length;
      } finally {
        await pool.close();
      }
    } finally {
      scenario.save();
      decoy.kill('SIGKILL');
      for (const h of [live, dying]) {
        h.killAll();
      }
      ctl.dispose();
    }
  });
});

/** The state and parent of the stopped worker and of its zygote, as /proc shows them. */
function processStates(worker: number, zygote: number | undefined): string {
  const one = (pid: number): string => {
    const stat = readStat(pid);
    return stat === undefined ? `${pid} gone` : `${pid} state ${stat.state} parent ${stat.ppid}`;
  };
  return zygote === undefined ? `worker ${one(worker)}` : `worker ${one(worker)}, zygote ${one(zygote)}`;
}
