/**
 * A grandchild started with `start_new_session=True` leaves its worker's process group; it still
 * carries the run id (SNAKEPIT_RUN_ID) and is killed on every exit path of its pool and, when its host
 * died, by the next Pool.start.
 */

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { alive, fixture, startPool, waitFor } from './helpers.js';
import { HostProcess, untilEmpty } from './control.js';

const adapter = fixture('session_child.py');
const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-reap-'));
const strays: number[] = [];
after(() => {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

async function sessionChild(pool: Awaited<ReturnType<typeof startPool>>): Promise<number> {
  const pid = await pool.execute<number>('spawn_session_child');
  strays.push(pid);
  assert.ok(alive(pid));
  return pid;
}

describe('grandchildren in sessions of their own', () => {
  it('pool.close() kills them', async () => {
    const pool = await startPool({ adapter, size: 1, stateDir: path.join(dir, 'a') });
    const pid = await sessionChild(pool);
    await pool.close();
    await waitFor(() => !alive(pid), 5000, 'grandchild killed by close');
  });

  it('pool.destroy() kills them', async () => {
    const pool = await startPool({ adapter, size: 1, stateDir: false });
    const pid = await sessionChild(pool);
    await pool.destroy();
    await waitFor(() => !alive(pid), 5000, 'grandchild killed by destroy');
  });

  it('a host that crashes kills them in its exit handler', async () => {
    const h = new HostProcess({ adapter, size: 1, stateDir: path.join(dir, 'c') });
    try {
      await h.waitFor('ready');
      h.send({ cmd: 'call', tool: 'spawn_session_child', args: {} });
      const line = await h.waitFor('result');
      const pid = line.value as number;
      strays.push(pid);
      assert.ok(alive(pid));
      h.send({ cmd: 'crash' });
      await h.exited;
      const { left } = await untilEmpty(() => (alive(pid) ? [pid] : []), 5000);
      assert.deepEqual(left, []);
    } finally {
      h.child.kill('SIGKILL');
    }
  });

  it('after the host is SIGKILLed, the next Pool.start reaps them', async () => {
    const state = path.join(dir, 'd');
    const runId = 'deadbeef0001';
    // A host that is gone, whose run left a process in a session of its own.
    const deadHost = Number(spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim());
    const child = spawn('sleep', ['300'], { stdio: 'ignore', detached: true, env: { ...process.env, SNAKEPIT_RUN_ID: runId } });
    child.unref();
    strays.push(child.pid!);
    const other = spawn('sleep', ['300'], { stdio: 'ignore', detached: true, env: { ...process.env, SNAKEPIT_RUN_ID: 'alive0000001' } });
    other.unref();
    strays.push(other.pid!);
    rmSync(state, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', state]);
    writeFileSync(path.join(state, `${deadHost}-${runId}.json`), JSON.stringify({ version: 1, hostPid: deadHost, hostStart: 1, runId, workers: [] }));
    const pool = await startPool({ adapter, size: 1, stateDir: state });
    try {
      await waitFor(() => !alive(child.pid!), 5000, 'the dead run\'s process reaped');
      assert.ok(alive(other.pid!), 'a process of another run is never touched');
    } finally {
      await pool.destroy();
    }
  });
});
