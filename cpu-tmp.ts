import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Packr, RESERVE_START_SPACE } from 'msgpackr';
import { Pool } from './src/index.ts';
const PY = './.venv/bin/python';
const packr = new Packr({ useRecords: false });
const ticks = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10_000; }; // us
function rawClient() {
  const child = spawn(PY, ['/tmp/perf/raw.py'], { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'] });
  const out = child.stdio[3] as any, inp = child.stdio[4] as any; const waiters = new Map<number, () => void>(); let rest = Buffer.alloc(0);
  inp.on('data', (c: Buffer) => { let b = rest.length ? Buffer.concat([rest, c]) : c; let o = 0;
    while (b.length - o >= 4) { const n = b.readUInt32BE(o); if (b.length - o - 4 < n) break; const m = packr.unpack(b.subarray(o + 4, o + 4 + n)) as any[]; o += 4 + n; const w = waiters.get(m[1]); waiters.delete(m[1]); w?.(); }
    rest = b.subarray(o); });
  let id = 0;
  return { pid: child.pid!, call() { const i = ++id; const f = packr.pack([1, i, 'add', { a: 1, b: 2 }, null, null, 0], RESERVE_START_SPACE | 4); f.writeUInt32BE(f.length - 4, 0); out.write(f); return new Promise<void>((res) => waiters.set(i, res)); }, close() { child.kill(); } };
}
async function measure(name: string, pid: number, call: () => Promise<unknown>, inflight: number, n = 20000) {
  for (let i = 0; i < 2000; i++) await call();
  const h0 = process.cpuUsage(); const w0 = ticks(pid); const t0 = performance.now(); let sent = 0;
  await Promise.all(Array.from({ length: inflight }, async () => { while (sent < n) { sent++; await call(); } }));
  const h = process.cpuUsage(h0); const w = ticks(pid) - w0; const wall = performance.now() - t0;
  console.log(`${name.padEnd(22)} inflight ${String(inflight).padStart(2)}: host cpu ${((h.user + h.system) / n).toFixed(1)} us/call, worker cpu ${(w / n).toFixed(1)} us/call, wall ${(wall * 1000 / n).toFixed(1)} us/call`);
}
const raw = rawClient();
await measure('raw', raw.pid, () => raw.call(), 1); await measure('raw', raw.pid, () => raw.call(), 32);
for (const concurrency of [1, 32]) {
  const pool = await Pool.start({ adapter: './test/fixtures/basic.py', size: 1, python: PY, concurrency });
  const pid = pool.stats().workerList[0]!.pid!;
  await measure(`pool c=${concurrency}`, pid, () => pool.execute('add', { a: 1, b: 2 }), 1);
  await measure(`pool c=${concurrency}`, pid, () => pool.execute('add', { a: 1, b: 2 }), 32);
  await measure(`pool c=${concurrency} async`, pid, () => pool.execute('aadd', { a: 1, b: 2 }), 32);
  await pool.destroy();
}
raw.close();
