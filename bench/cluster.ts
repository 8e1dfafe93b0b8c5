/**
 * The cluster against a bare NATS request-reply echo, measured side by side in one run.
 *
 *   node --import tsx bench/cluster.ts [--rounds 5] [--seq 1000] [--tp 3000] [--mb 100] [--json FILE]
 *
 * On one nats-server (127.0.0.1, JetStream on):
 *   echo      a Python nats-py responder (bench/cluster_echo.py) answering `bench.echo` with the
 *             request's bytes, called with nc.request from this process: the floor of any remote call
 *   remote    Pool.connect to agents (bench/cluster-agent.ts, the compiled library), each a local
 *             pool of one Python worker, calling add(a, b)
 * Figures: sequential p50 (remote / echo, goal <= 1.3), throughput with 64 calls in flight (remote /
 * echo, goal >= 0.8) and the agent's CPU time per call meanwhile, 100 MB of bytes to and from Python
 * through the cluster (GB/s), and aggregate throughput with 1, 2 and 4 agents (on a 2-core machine
 * they share the cores with everything else).
 * Medians over rounds that alternate the order of the contenders.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { Pool } from './lib/library.js';
import { BENCH_DIR, PYTHON, ROOT, machineInfo } from './lib/env.js';
import { median, round, sequential, table, throughput } from './lib/measure.js';
import { cpuNsOf } from './lib/procfs.js';
import { NatsServer } from '../test/cluster/harness.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seq: { type: 'string', default: '1000' },
    tp: { type: 'string', default: '3000' },
    mb: { type: 'string', default: '100' },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const SEQ = Number(values.seq);
const TP = Number(values.tp);
const MB = Number(values.mb);
const FIXTURE = path.join(ROOT, 'test', 'cluster', 'fixtures', 'cluster_tools.py');

async function started(proc: ChildProcess, marker: string): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const on = (d: Buffer): void => {
      out += d.toString();
      if (out.includes(marker)) resolve();
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.once('exit', () => reject(new Error(`process exited: ${out}`)));
  });
}

const procs: ChildProcess[] = [];
async function startAgent(url: string, id: string): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'cluster-agent.ts'), url, 'bench', id, FIXTURE, PYTHON], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  await started(proc, 'serving pool');
}

const server = await new NatsServer().start();
try {
  const echoProc = spawn(PYTHON, [path.join(BENCH_DIR, 'cluster_echo.py'), server.url], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(echoProc);
  await started(echoProc, 'ready');
  await startAgent(server.url, 'b1');
  const nc = await connect({ servers: server.url });
  const remote = await Pool.connect({ nats: { servers: server.url }, pool: 'bench' });
  // The echo carries as many bytes as the remote call's request.
  const payload = new Uint8Array(80).fill(7);
  const echo = (): Promise<unknown> => nc.request('bench.echo', payload, { timeout: 10_000 });
  const call = (): Promise<unknown> => remote.execute('add', { a: 1, b: 2 });
  await throughput(echo, 2000, 16);
  await throughput(call, 2000, 16);

  const seq = { echo: [] as number[], remote: [] as number[] };
  const tp = { echo: [] as number[], remote: [] as number[] };
  // The agent's own CPU time per call (all its threads) while 64 calls are in flight.
  const agentPid = procs[1]!.pid!;
  const agentCpuUs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? (['echo', 'remote'] as const) : (['remote', 'echo'] as const);
    for (const who of order) {
      const fn = who === 'echo' ? echo : call;
      seq[who].push((await sequential(fn, SEQ)).p50);
      const cpu0 = cpuNsOf(agentPid);
      tp[who].push(await throughput(fn, TP, 64));
      if (who === 'remote') agentCpuUs.push((cpuNsOf(agentPid) - cpu0) / 1000 / TP);
    }
  }
  const p50 = { echo: median(seq.echo), remote: median(seq.remote) };
  const rate = { echo: median(tp.echo), remote: median(tp.remote) };

  // Bulk bytes: to Python (nbytes) and from Python (make_bytes), through the agent.
  const size = MB * 1024 * 1024;
  const data = Buffer.alloc(size, 1);
  const up: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < 3; i++) {
    let t0 = performance.now();
    await remote.execute('nbytes', { data });
    up.push(size / 1e9 / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    await remote.execute('make_bytes', { n: size });
    down.push(size / 1e9 / ((performance.now() - t0) / 1000));
  }

  // The bare-NATS floor for bulk: the same bytes in max_payload-sized requests, 8 in flight, to a
  // subscriber in this process that acknowledges each (what the cluster's parts do, minus Python).
  const sink = await connect({ servers: server.url });
  sink.subscribe('bench.sink', { callback: (_e, m) => m.respond(new Uint8Array(0)) });
  await sink.flush();
  const partSize = (nc.info?.max_payload ?? 1024 * 1024) - 4096;
  const bare: number[] = [];
  for (let i = 0; i < 3; i++) {
    const parts = Math.ceil(size / partSize);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < parts) {
        const k = next++;
        await nc.request('bench.sink', data.subarray(k * partSize, (k + 1) * partSize), { timeout: 30_000 });
      }
    }));
    bare.push(size / 1e9 / ((performance.now() - t0) / 1000));
  }
  await sink.close();

  // Aggregate throughput with 1, 2 and 4 agents.
  const scaling: [number, number][] = [];
  for (const n of [1, 2, 4]) {
    while (remote.stats().agents.length < n) {
      await startAgent(server.url, `b${remote.stats().agents.length + 1}`);
      const until = Date.now() + 10_000;
      while (remote.stats().agents.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    }
    await throughput(call, 1000, 64);
    scaling.push([n, median([await throughput(call, TP, 64), await throughput(call, TP, 64)])]);
  }

  const results = {
    machine: machineInfo(),
    sequentialP50Us: { echo: round(p50.echo), remote: round(p50.remote), ratio: round(p50.remote / p50.echo, 2), goal: '<= 1.3' },
    throughput64: { echo: Math.round(rate.echo), remote: Math.round(rate.remote), ratio: round(rate.remote / rate.echo, 2), goal: '>= 0.8' },
    agentCpuUsPerCall: round(median(agentCpuUs), 1),
    bulkGBps: { megabytes: MB, toPython: round(median(up), 2), fromPython: round(median(down), 2), bareNats: round(median(bare), 2) },
    agents: scaling.map(([n, r]) => ({ agents: n, callsPerSecond: Math.round(r), vsOne: round(r / scaling[0]![1], 2) })),
  };
  console.log(table(['measure', 'bare NATS echo', 'remote pool', 'ratio', 'goal'], [
    ['sequential p50 (us)', results.sequentialP50Us.echo, results.sequentialP50Us.remote, results.sequentialP50Us.ratio, '<= 1.3'],
    ['64 in flight (calls/s)', results.throughput64.echo, results.throughput64.remote, results.throughput64.ratio, '>= 0.8'],
  ]));
  console.log(`\nthe agent's CPU time per call at 64 in flight: ${results.agentCpuUsPerCall} us`);
  console.log(`${MB} MB of bytes: to Python ${results.bulkGBps.toPython} GB/s, from Python ${results.bulkGBps.fromPython} GB/s ` +
    `(bare NATS, same parts, no Python: ${results.bulkGBps.bareNats} GB/s)`);
  console.log(table(['agents', 'calls/s (64 in flight)', 'vs 1 agent'], results.agents.map((a) => [a.agents, a.callsPerSecond, a.vsOne])));
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(results, null, 2) + '\n');
  await remote.close();
  await nc.close();
} finally {
  for (const p of procs) p.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await server.dispose();
}
