/**
 * R33: an agent's machine cut from the network. The server and the host run in one network namespace,
 * each agent in its own, joined by veth links with /30 addresses that exist only inside these
 * namespaces. Cutting a link (`ip link set ... down`) is a real network cut: the agent's process lives
 * on but no packet passes. Needs root and `ip netns`; skipped otherwise.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { ROOT } from '../helpers.js';
import { AgentProcess, NatsServer } from './harness.js';

function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: 'ignore' });
};

test('an agent machine cut from the network: AGENT_LOST, session lost, rejoin without duplicate execution', { skip: !canUseNetns() && 'needs root and ip netns' }, async () => {
  const id = randomBytes(3).toString('hex');
  const octet = 100 + (randomBytes(1)[0]! % 150);
  const server = `snk${id}s`;
  const nsA = `snk${id}a`;
  const nsB = `snk${id}b`;
  const namespaces = [server, nsA, nsB];
  const marks = mkdtempSync(path.join(os.tmpdir(), 'snakepit-marks-'));
  const procs: AgentProcess[] = [];
  let nats: NatsServer | undefined;
  try {
    for (const ns of namespaces) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    const links: [string, string, number][] = [[nsA, `snk${id}x1`, 1], [nsB, `snk${id}x2`, 2]];
    for (const [ns, name, k] of links) {
      // Both ends are created inside the namespaces: nothing is added to the root namespace.
      ip('-n', server, 'link', 'add', `${name}s`, 'type', 'veth', 'peer', 'name', `${name}a`, 'netns', ns);
      ip('-n', server, 'addr', 'add', `10.${octet}.${k}.1/30`, 'dev', `${name}s`);
      ip('-n', ns, 'addr', 'add', `10.${octet}.${k}.2/30`, 'dev', `${name}a`);
      ip('-n', server, 'link', 'set', `${name}s`, 'up');
      ip('-n', ns, 'link', 'set', `${name}a`, 'up');
    }
    nats = await new NatsServer({ host: '0.0.0.0', netns: server }).start();
    const agentA = await new AgentProcess({
      url: `nats://10.${octet}.1.1:${nats.port}`, pool: 'cut', id: 'cutA', size: 2, netns: nsA, env: { CLUSTER_TOOLS_MARKS: marks },
    }).start();
    procs.push(agentA);
    procs.push(await new AgentProcess({
      url: `nats://10.${octet}.2.1:${nats.port}`, pool: 'cut', id: 'cutB', size: 2, netns: nsB, env: { CLUSTER_TOOLS_MARKS: marks },
    }).start());

    const host = spawn('ip', ['netns', 'exec', server, process.execPath, '--import', 'tsx',
      path.join(ROOT, 'test', 'cluster', 'fixtures', 'netns-host.ts'), `nats://127.0.0.1:${nats.port}`, 'cut', String(agentA.pid)], {
      cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: host.stdout });
    let result: Record<string, unknown> | undefined;
    for await (const line of lines) {
      if (line === 'loaded') {
        ip('-n', server, 'link', 'set', `snk${id}x1s`, 'down');
        host.stdin.write('cut\n');
      } else if (line === 'detected') {
        await new Promise((r) => setTimeout(r, 1000));
        ip('-n', server, 'link', 'set', `snk${id}x1s`, 'up');
        host.stdin.write('up\n');
      } else if (line.startsWith('{')) {
        result = JSON.parse(line) as Record<string, unknown>;
        break;
      }
    }
    assert.ok(result !== undefined, 'the host reported');
    type Outcome = {
      sent: number;
      settled: number;
      hung: number;
      untyped: number;
      failedByCode: Record<string, number>;
      sessionCode: string;
      pinned: boolean;
      plainTags: string[];
    };
    const r = result as Outcome;
    // Duplicate executions of calls not marked idempotent, counted from the agents' own records.
    const runs = new Map<string, number>();
    for (const file of readdirSync(marks)) {
      for (const tag of readFileSync(path.join(marks, file), 'utf8').split('\n').filter(Boolean)) runs.set(tag, (runs.get(tag) ?? 0) + 1);
    }
    const duplicates = r.plainTags.filter((t) => (runs.get(t) ?? 0) > 1).length;
    const { plainTags, ...figures } = r;
    void plainTags;
    const report = { ...figures, duplicateExecutions: duplicates };
    console.log(`[cluster] network cut: ${JSON.stringify(report)}`);
    mkdirSync(path.join(ROOT, 'test', 'cluster', 'results'), { recursive: true });
    writeFileSync(path.join(ROOT, 'test', 'cluster', 'results', 'netns.json'), JSON.stringify(report, null, 2) + '\n');
    assert.equal(r.hung, 0);
    assert.equal(r.untyped, 0);
    assert.equal(r.settled, r.sent);
    assert.ok((r.failedByCode.AGENT_LOST ?? 0) >= 1, 'calls on the cut agent were lost with it');
    assert.deepEqual(Object.keys(r.failedByCode).filter((c) => c !== 'AGENT_LOST'), []);
    assert.equal(duplicates, 0);
    assert.ok(r.pinned);
    assert.equal(r.sessionCode, 'SESSION_LOST');
  } finally {
    for (const a of procs) await a.kill('SIGKILL');
    await nats?.dispose();
    for (const ns of namespaces) {
      if (existsSync(`/run/netns/${ns}`)) {
        try {
          ip('netns', 'del', ns);
        } catch {
          /* already gone */
        }
      }
    }
    rmSync(marks, { recursive: true, force: true });
  }
});
