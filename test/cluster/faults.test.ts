/**
 * Cluster faults (reliability.md R32-R34 and more), each with its ledger: calls sent, settled, lost 0,
 * hung 0, untyped 0, and times to rejection and recovery. Figures go to test/cluster/results/.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'nats';
import { Pool, type RemotePool } from '../../src/index.js';
import { subjects } from '../../src/cluster/wire.js';
import { ROOT } from '../helpers.js';
import { AgentProcess, NatsServer, newLedger, settledCount, track, type Ledger } from './harness.js';

const RESULTS = path.join(ROOT, 'test', 'cluster', 'results');
const figures: Record<string, unknown> = {};

function record(name: string, ledger: Ledger, extra: Record<string, unknown> = {}): void {
  figures[name] = { ...ledger, settled: settledCount(ledger), ...extra };
  console.log(`[cluster] ${name}: ${JSON.stringify(figures[name])}`);
}

function assertBalanced(ledger: Ledger): void {
  assert.equal(ledger.hung, 0, 'hung calls');
  assert.equal(ledger.untyped, 0, 'untyped errors');
  assert.equal(settledCount(ledger), ledger.sent, 'every call settled');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function p(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
}

let server: NatsServer;
const agents: AgentProcess[] = [];
const pools: RemotePool[] = [];

async function agent(pool: string, id: string, extra: Partial<ConstructorParameters<typeof AgentProcess>[0]> = {}): Promise<AgentProcess> {
  const a = await new AgentProcess({ url: server.url, pool, id, size: 2, ...extra }).start();
  agents.push(a);
  return a;
}

async function remote(pool: string, url = server.url): Promise<RemotePool> {
  const r = await Pool.connect({ nats: { servers: url }, pool, timeout: 15_000 });
  pools.push(r);
  return r;
}

before(async () => {
  server = await new NatsServer().start();
});

after(async () => {
  await Promise.all(pools.map((r) => r.destroy()));
  await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  await server.dispose();
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'faults.json'), JSON.stringify(figures, null, 2) + '\n');
});

test('no agent: calls fail fast with NO_AGENTS', async () => {
  const r = await Pool.connect({ nats: { servers: server.url }, pool: 'nobody', waitForAgents: 0 });
  pools.push(r);
  const t0 = performance.now();
  await assert.rejects(r.execute('add', { a: 1, b: 2 }), { code: 'NO_AGENTS' });
  assert.ok(performance.now() - t0 < 1000);
});

test('agent SIGKILLed mid-call: AGENT_LOST, idempotent calls retried elsewhere, its sessions lost', async () => {
  const k1 = await agent('kill', 'k1');
  const k2 = await agent('kill', 'k2');
  const r = await remote('kill');
  await waitAgents(r, 2);
  // A session pinned to k1.
  let session = r.session();
  for (let i = 0; i < 20 && (await session.execute<number>('agent_pid')) !== k1.pid; i++) {
    await session.close();
    session = r.session();
  }
  assert.equal(await session.execute('agent_pid'), k1.pid);

  const ledger = newLedger();
  const lostAt: number[] = [];
  let killedAt = 0;
  let stop = false;
  const ranOn = new Map<number, number>();
  const worker = async (idempotent: boolean): Promise<void> => {
    while (!stop) {
      const call = r.execute<number>('where', { seconds: 0.15 }, { idempotent });
      call.then((pid) => ranOn.set(pid, (ranOn.get(pid) ?? 0) + 1), (err: { code?: string }) => {
        if (err.code === 'AGENT_LOST') lostAt.push(performance.now() - killedAt);
      });
      await track(ledger, call);
    }
  };
  const load = [false, false, false, true, true, true].map(worker);
  await sleep(600);
  killedAt = performance.now();
  await k1.kill('SIGKILL');
  await waitFor(() => r.stats().agents.length === 1, 5000);
  const detectedMs = performance.now() - killedAt;
  await sleep(400);
  // Recovery: a new agent joins and takes calls.
  const t0 = performance.now();
  await agent('kill', 'k3');
  await waitAgents(r, 2);
  const recoverMs = performance.now() - t0;
  await sleep(300);
  stop = true;
  await Promise.all(load);
  await assert.rejects(session.execute('incr'), { code: 'SESSION_LOST' });
  assert.equal(session.state, 'lost');
  assertBalanced(ledger);
  // Non-idempotent calls on k1 failed with AGENT_LOST; idempotent ones were retried (stats().retries).
  assert.ok((ledger.failedByCode.AGENT_LOST ?? 0) >= 1, 'some non-idempotent call was lost with its agent');
  assert.deepEqual(Object.keys(ledger.failedByCode).filter((c) => c !== 'AGENT_LOST'), []);
  assert.ok(r.stats().retries >= 1, 'an idempotent call was retried elsewhere');
  assert.ok((ranOn.get(k2.pid) ?? 0) > 0);
  record('agent SIGKILL mid-call', ledger, {
    retriedIdempotent: r.stats().retries,
    detectMs: Math.round(detectedMs),
    deathToRejectionP50: p(lostAt, 0.5),
    deathToRejectionP99: p(lostAt, 0.99),
    newAgentJoinMs: Math.round(recoverMs),
    sessionLost: true,
  });
});

test('an agent closed gracefully (SIGTERM) drains: no call is lost, new calls go to the others', async () => {
  const g1 = await agent('drain', 'g1');
  await agent('drain', 'g2');
  const r = await remote('drain');
  await waitAgents(r, 2);
  const ledger = newLedger();
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) await track(ledger, r.execute('where', { seconds: 0.2 }));
  };
  const load = Array.from({ length: 6 }, worker);
  await sleep(500);
  const t0 = performance.now();
  await g1.kill('SIGTERM');
  const drainMs = performance.now() - t0;
  await sleep(500);
  stop = true;
  await Promise.all(load);
  assertBalanced(ledger);
  assert.deepEqual(ledger.failedByCode, {});
  record('agent graceful close', ledger, { drainMs: Math.round(drainMs) });
});

test('a slow agent does not collect a queue: capacity-aware choice sends most calls to the fast one', async () => {
  const fast = await agent('slow', 'fast1', { size: 1 });
  const slow = await agent('slow', 'slow1', { size: 1, env: { CLUSTER_TOOLS_DELAY: '0.2' } });
  const r = await remote('slow');
  await waitAgents(r, 2);
  const ledger = newLedger();
  const by = new Map<number, number>();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 15; i++) {
        const call = r.execute<number>('where', { seconds: 0.005 });
        call.then((pid) => by.set(pid, (by.get(pid) ?? 0) + 1), () => {});
        await track(ledger, call);
      }
    }),
  );
  assertBalanced(ledger);
  assert.equal(ledger.ok, 60);
  const onFast = by.get(fast.pid) ?? 0;
  const onSlow = by.get(slow.pid) ?? 0;
  record('slow agent', ledger, { onFast, onSlow, ms: Math.round(performance.now() - t0) });
  assert.ok(onFast >= 40, `fast agent ran ${onFast} of 60 (slow ${onSlow})`);
});

test('a host dies: its sessions are freed on the agent after their TTL', async () => {
  await agent('hostdies', 'h1', { sessionTtl: 1000 });
  const sid = 'orphan-session';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test', 'cluster', 'fixtures', 'host-session.ts'), server.url, 'hostdies', sid], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('ready'), 15_000);
  const nc = await connect({ servers: server.url });
  try {
    const kv = await nc.jetstream().views.kv(subjects.sessionsBucket('hostdies'));
    const key = subjects.sessionKey(sid);
    assert.equal((await kv.get(key))?.operation, 'PUT');
    child.kill('SIGKILL');
    const diedAt = performance.now();
    let freedMs = -1;
    for (let i = 0; i < 100; i++) {
      const e = await kv.get(key);
      if (e === null || e.operation !== 'PUT') {
        freedMs = performance.now() - diedAt;
        break;
      }
      await sleep(100);
    }
    assert.ok(freedMs >= 0, 'session freed');
    figures['host dies'] = { sessionTtlMs: 1000, freedAfterMs: Math.round(freedMs) };
    console.log(`[cluster] host dies: ${JSON.stringify(figures['host dies'])}`);
  } finally {
    await nc.close();
  }
});

test('NATS server restarted with calls in flight: every call settles, clients reconnect', async () => {
  const own = await new NatsServer().start();
  const a = await new AgentProcess({ url: own.url, pool: 'restart', id: 'r1', size: 2 }).start();
  agents.push(a);
  const r = await remote('restart', own.url);
  try {
    await waitAgents(r, 1);
    const ledger = newLedger();
    let stop = false;
    let restartedAt = 0;
    let firstOkAfter = -1;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const call = r.execute('where', { seconds: 0.1 }, { timeout: 8000 });
        call.then(() => {
          if (restartedAt > 0 && firstOkAfter < 0) firstOkAfter = performance.now() - restartedAt;
        }, () => {});
        await track(ledger, call, 20_000);
      }
    };
    const load = Array.from({ length: 6 }, worker);
    await sleep(700);
    await own.stop(true);
    await sleep(800);
    await own.start();
    restartedAt = performance.now();
    await waitFor(() => firstOkAfter >= 0, 15_000);
    await sleep(500);
    stop = true;
    await Promise.all(load);
    assertBalanced(ledger);
    assert.ok(ledger.ok > 10);
    record('NATS server restart', ledger, { downMs: 800, firstOkAfterRestartMs: Math.round(firstOkAfter) });
  } finally {
    await r.destroy();
    await a.kill('SIGKILL');
    await own.dispose();
  }
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
  }
}

async function waitAgents(r: RemotePool, n: number): Promise<void> {
  await waitFor(() => r.stats().agents.length >= n, 10_000);
}
