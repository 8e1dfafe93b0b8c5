import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ControlDir, HostProcess, untilEmpty } from './control.js';
import { START_METHOD, fixture } from './helpers.js';

const hosts: HostProcess[] = [];
const dirs: ControlDir[] = [];
afterEach(() => {
  for (const h of hosts.splice(0)) h.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) d.dispose();
});

function host(extra: Record<string, unknown> = {}, env: Record<string, string> = {}, nodeArgs: string[] = []): { h: HostProcess; ctl: ControlDir } {
  const ctl = new ControlDir();
  dirs.push(ctl);
  const h = new HostProcess(
    { adapter: fixture('chaos.py'), size: 2, stateDir: ctl.sub('state'), env: { CHAOS_DIR: ctl.path, CHAOS_GRANDCHILD: '1', ...env }, startMethod: START_METHOD, ...extra },
    nodeArgs,
  );
  hosts.push(h);
  return { h, ctl };
}

/** Every worker and grandchild of the host is gone within a few seconds. */
async function assertNoSurvivors(h: HostProcess, what: string): Promise<void> {
  const { left } = await untilEmpty(() => h.survivors(), 5_000);
  assert.deepEqual(left, [], `${what}: processes left behind`);
}

describe('host exit: no worker outlives its host', () => {
  it('host SIGKILLed: workers and their grandchildren go by the lifeline (R22)', async () => {
    const { h, ctl } = host();
    await h.waitFor('ready');
    assert.equal(ctl.grandchildren().length, 2);
    assert.ok(h.survivors().length >= 4, 'workers and grandchildren are running');
    h.child.kill('SIGKILL');
    await h.exited;
    await assertNoSurvivors(h, 'SIGKILL');
  });

  it('host dies while its workers start (R22)', async () => {
    const { h, ctl } = host({ startupTimeout: 60_000 }, { CHAOS_SETUP_SLEEP: '30' });
    await h.waitFor('starting');
    // Wait until the workers are in their (slow) setup, with their grandchildren running.
    const { left } = await untilEmpty(() => (ctl.grandchildren().length >= 2 ? [] : [0]), 20_000);
    assert.deepEqual(left, [], 'workers reached setup');
    h.child.kill('SIGKILL');
    await h.exited;
    await assertNoSurvivors(h, 'SIGKILL during start');
  });

  it('host crashes with an uncaught exception: the exit handler kills every worker group', async () => {
    const { h } = host();
    await h.waitFor('ready');
    h.send({ cmd: 'crash' });
    const exit = await h.exited;
    assert.equal(exit.code, 1);
    await assertNoSurvivors(h, 'uncaught exception');
  });

  it('handleSignals: the first SIGTERM drains running calls, then the host ends by SIGTERM (R21)', async () => {
    const { h } = host({ handleSignals: true });
    await h.waitFor('ready');
    h.send({ cmd: 'busy', n: 2, seconds: 1 });
    await h.waitFor('busy-started');
    await new Promise((r) => setTimeout(r, 200));
    h.child.kill('SIGTERM');
    const exit = await h.exited;
    assert.equal(exit.signal, 'SIGTERM');
    const results = h.lines.filter((l) => l.event === 'busy-result');
    assert.deepEqual(results.map((r) => r.value), ['done', 'done'], 'running calls finished');
    await assertNoSurvivors(h, 'graceful SIGTERM');
  });

  it('handleSignals: a second SIGINT stops at once (R21)', async () => {
    const { h } = host({ handleSignals: true });
    await h.waitFor('ready');
    h.send({ cmd: 'busy', n: 2, seconds: 60 });
    await h.waitFor('busy-started');
    await new Promise((r) => setTimeout(r, 200));
    h.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.child.exitCode, null, 'the first signal waits for running calls');
    h.child.kill('SIGINT');
    const exit = await h.exited;
    assert.equal(exit.signal, 'SIGINT');
    await assertNoSurvivors(h, 'second SIGINT');
  });

  it('an open pool left idle does not keep the host alive, and its workers go with it', async () => {
    const { h } = host();
    await h.waitFor('ready');
    h.send({ cmd: 'call', tool: 'pid' });
    await h.waitFor('result'); // a call's deadline timer, and the pool's hold on Node's timer list for it
    h.send({ cmd: 'release' });
    const stuck = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error('the host is still running 15 s after it let go of stdin')), 15_000).unref();
    });
    const exit = await Promise.race([h.exited, stuck]); // no process.exit, no close: the event loop emptied
    assert.equal(exit.code, 0);
    await assertNoSurvivors(h, 'natural exit with the pool open');
  });

  it('after close the host exits by itself, and the pool is garbage-collected (R24)', async () => {
    const { h } = host({}, {}, ['--expose-gc']);
    await h.waitFor('ready');
    h.send({ cmd: 'gc-check' });
    const gc = await h.waitFor('gc');
    assert.equal(gc.gcAvailable, true);
    assert.equal(gc.collected, true, 'the closed pool was collected');
    const exit = await h.exited; // no process.exit: the event loop emptied
    assert.equal(exit.code, 0);
    await assertNoSurvivors(h, 'natural exit');
  });
});
