import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { processStartTime } from '../src/worker/procfs.js';
import { reapDeadRuns } from '../src/worker/run-registry.js';
import { running } from './control.js';
import { fixture, startPool, waitFor } from './helpers.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

function stateDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'snakepit-state-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sleeper(env: Record<string, string> = {}, detached = false): ChildProcess {
  const child = spawn('sleep', ['600'], { stdio: 'ignore', env: { ...process.env, ...env }, detached });
  cleanup.push(() => {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  });
  return child;
}

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

function writeRun(dir: string, hostPid: number, hostStart: number | null, runId: string, workers: { pid: number; start: number | null }[]): string {
  const file = path.join(dir, `${hostPid}-${runId}.json`);
  writeFileSync(file, JSON.stringify({ version: 1, hostPid, hostStart, runId, workers }));
  return file;
}

describe('run registry', () => {
  it('records the running workers with their start times and removes the file on close', async () => {
    const dir = stateDir();
    const pool = await startPool({ size: 2, stateDir: dir });
    try {
      const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      assert.equal(files.length, 1);
      assert.match(files[0]!, new RegExp(`^${process.pid}-[0-9a-f]+\\.json$`));
      const run = JSON.parse(readFileSync(path.join(dir, files[0]!), 'utf8'));
      assert.equal(run.hostPid, process.pid);
      assert.equal(run.hostStart, processStartTime(process.pid));
      // In fork-server mode the zygote is recorded too.
      const zygote = pool.stats().forkServer?.pid;
      const pids = [...pool.stats().workerList.map((w) => w.pid), ...(zygote ? [zygote] : [])].sort();
      assert.deepEqual(run.workers.map((w: { pid: number }) => w.pid).sort(), pids);
      for (const w of run.workers) assert.equal(w.start, processStartTime(w.pid));
    } finally {
      await pool.close();
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.json')), []);
  });

  it('stateDir: false keeps no registry', async () => {
    const pool = await startPool({ size: 1, stateDir: false });
    try {
      assert.equal(pool.options.stateDir, false);
      assert.equal(pool.stats().reaped, 0);
    } finally {
      await pool.destroy();
    }
  });

  it('reaps workers of a dead run, but never a pid whose start time changed (R23)', async () => {
    const dir = stateDir();
    const orphan = sleeper({}, true);
    const reused = sleeper();
    await waitFor(() => processStartTime(orphan.pid!) !== undefined && processStartTime(reused.pid!) !== undefined);
    const file = writeRun(dir, deadPid(), 1, 'deadrun', [
      { pid: orphan.pid!, start: processStartTime(orphan.pid!)! },
      { pid: reused.pid!, start: processStartTime(reused.pid!)! - 1 }, // another process now has this pid
    ]);
    const report = reapDeadRuns(dir);
    assert.deepEqual(report.killed, [orphan.pid]);
    assert.deepEqual(report.reused, [reused.pid]);
    assert.equal(report.deadRuns, 1);
    await waitFor(() => !running(orphan.pid!), 5000, 'orphan killed');
    assert.ok(running(reused.pid!), 'the reused pid was not touched');
    assert.throws(() => readFileSync(file), 'the dead run file is removed');
  });

  it('never touches the workers of a live host, nor a host pid that was reused', () => {
    const dir = stateDir();
    const worker = sleeper();
    const liveHost = sleeper();
    const start = processStartTime(worker.pid!)!;
    const live = writeRun(dir, liveHost.pid!, processStartTime(liveHost.pid!)!, 'live', [{ pid: worker.pid!, start }]);
    const self = writeRun(dir, process.pid, processStartTime(process.pid)!, 'self', [{ pid: worker.pid!, start }]);
    const report = reapDeadRuns(dir);
    assert.deepEqual(report, { deadRuns: 0, killed: [], reused: [] });
    assert.ok(running(worker.pid!));
    readFileSync(live);
    readFileSync(self);
    // The same host pid with another start time is a dead run: its host was replaced by another program.
    writeRun(dir, liveHost.pid!, processStartTime(liveHost.pid!)! - 5, 'old', [{ pid: worker.pid!, start }]);
    const second = reapDeadRuns(dir);
    assert.deepEqual(second.killed, [worker.pid]);
  });

  it('kills stray members of a dead worker group only when they carry the run id', async () => {
    const dir = stateDir();
    // A group leader that exits at once, leaving a member behind: the dead worker and its grandchild.
    const group = (env: Record<string, string>) => {
      const r = spawnSync('setsid', ['sh', '-c', 'sleep 600 >/dev/null 2>&1 & echo $$ $!'], { env: { ...process.env, ...env } });
      const [leader, member] = r.stdout.toString().trim().split(' ').map(Number);
      cleanup.push(() => {
        try {
          process.kill(member!, 'SIGKILL');
        } catch {
          /* gone */
        }
      });
      return { leader: leader!, member: member! };
    };
    const ours = group({ SNAKEPIT_RUN_ID: 'strayrun' });
    const foreign = group({ SNAKEPIT_RUN_ID: 'somebody-else' });
    await waitFor(() => !running(ours.leader) && running(ours.member));
    writeRun(dir, deadPid(), 1, 'strayrun', [
      { pid: ours.leader, start: 1 },
      { pid: foreign.leader, start: 1 },
    ]);
    const report = reapDeadRuns(dir);
    assert.deepEqual(report.killed, [ours.member]);
    await waitFor(() => !running(ours.member), 5000, 'stray member killed');
    assert.ok(running(foreign.member), 'a process without the run id is never touched');
  });

  it('ignores files that are not run files', () => {
    const dir = stateDir();
    writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    writeFileSync(path.join(dir, '123-abc.json'), '{ not json');
    writeFileSync(path.join(dir, '124-abc.json'), JSON.stringify({ version: 1, hostPid: 999, workers: [] }));
    assert.deepEqual(reapDeadRuns(dir), { deadRuns: 0, killed: [], reused: [] });
    assert.deepEqual(reapDeadRuns(path.join(dir, 'missing')), { deadRuns: 0, killed: [], reused: [] });
  });
});

describe('run registry: a pool start reaps a dead host', () => {
  it('counts reaped leftovers in stats', async () => {
    const dir = stateDir();
    const orphan = sleeper({}, true);
    await waitFor(() => processStartTime(orphan.pid!) !== undefined);
    writeRun(dir, deadPid(), 1, 'gone', [{ pid: orphan.pid!, start: processStartTime(orphan.pid!)! }]);
    const pool = await startPool({ size: 1, stateDir: dir, adapter: fixture('basic.py') });
    try {
      assert.equal(pool.stats().reaped, 1);
      await waitFor(() => !running(orphan.pid!), 5000, 'orphan reaped');
    } finally {
      await pool.close();
    }
  });
});
