/**
 * Bulk data throughput of the pool against a raw framed pipe, measured side by side in one run.
 *
 *   node --import tsx bench/data.ts [--rounds 5] [--only bytes-1MB,...] [--no-shm] [--json FILE]
 *
 * Cases: 1 MB and 100 MB of bytes (Buffer <-> bytes), and float64 arrays of 1e6 and 1e8 elements
 * (Float64Array / NDArray <-> numpy.ndarray), each in both directions:
 *   to python    pool.execute('consume', { data })       the worker receives the value, returns its size
 *   to node      pool.execute('produce', { kind, n })    the worker returns a value prepared beforehand
 * Contenders, alive for the whole run:
 *   raw          bench/data_raw.py on the same kind of pipes, frames of raw bytes, no pool, no codec
 *   pool         Pool.start with bench/data_adapter.py, size 1, the MessagePack codec
 *   shm          (unless --no-shm) the same bytes through a file in /dev/shm: the sender writes the file,
 *                the receiver maps it (Python, touching every page) or reads it (Node, which cannot map)
 * Each round measures every contender once per case, alternating the order; figures are medians over
 * the rounds. GB/s counts 10^9 bytes of payload per second. Targets at 100 MB: pool >= 0.8 x raw and
 * above 1 GB/s. Memory: the 1e8 case holds 800 MB on each side per value in flight.
 */

import { closeSync, existsSync, openSync, readSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PYTHON } from './lib/env.js';
import { FramedPeer } from './lib/framed-peer.js';
import { NDArray, Pool } from './lib/library.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    only: { type: 'string' },
    'no-shm': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);

interface Case {
  name: string;
  kind: 'bytes' | 'float64';
  /** Elements: bytes, or float64 values. */
  n: number;
  bytes: number;
  /** Timed operations per round and contender. */
  reps: number;
}

const CASES: Case[] = (
  [
    { name: 'bytes 1 MB', kind: 'bytes', n: 1e6, bytes: 1e6, reps: 50 },
    { name: 'bytes 100 MB', kind: 'bytes', n: 1e8, bytes: 1e8, reps: 3 },
    { name: 'float64 1e6', kind: 'float64', n: 1e6, bytes: 8e6, reps: 10 },
    { name: 'float64 1e8', kind: 'float64', n: 1e8, bytes: 8e8, reps: 1 },
  ] as Case[]
).filter((c) => args.only === undefined || args.only.split(',').some((o) => c.name.replace(/ /g, '') === o.replace(/[- ]/g, '')));

type Direction = 'to python' | 'to node';
const DIRECTIONS: Direction[] = ['to python', 'to node'];

// ------------------------------------------------------------------ raw pipe peer


function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

// ------------------------------------------------------------------ measurement

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Seconds per operation, median of the per-rep times of this round. */
async function timeOps(reps: number, op: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await op();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return times;
}

function payloadFor(c: Case): { value: Buffer | Float64Array; bytes: Uint8Array } {
  if (c.kind === 'bytes') {
    const buf = Buffer.allocUnsafe(c.n);
    for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 0xff;
    return { value: buf, bytes: buf };
  }
  const arr = new Float64Array(c.n);
  for (let i = 0; i < arr.length; i += 512) arr[i] = i;
  return { value: arr, bytes: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) };
}

let shmSeq = 0;
function shmPath(): string {
  return path.join('/dev/shm', `snakepit-bench-${process.pid}-${shmSeq++}`);
}

function writeFileFrom(file: string, data: Uint8Array): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    let done = 0;
    while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done);
  } finally {
    closeSync(fd);
  }
}

function readFileFresh(file: string, size: number): Buffer {
  const fd = openSync(file, 'r');
  unlinkSync(file);
  try {
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) done += readSync(fd, buf, done, size - done, done);
    return buf;
  } finally {
    closeSync(fd);
  }
}

interface Row {
  case: string;
  direction: Direction;
  bytes: number;
  raw: number;
  pool: number;
  shm?: number;
}

async function main(): Promise<void> {
  const shm = !args['no-shm'] && existsSync('/dev/shm');
  const raw = new FramedPeer(path.join(HERE, 'data_raw.py'), ['pipe']);
  const shmPeer = shm ? new FramedPeer(path.join(HERE, 'data_raw.py'), ['shm']) : undefined;
  const largest = Math.max(...CASES.map((c) => c.bytes));
  const pool = await Pool.start({
    adapter: path.join(HERE, 'data_adapter.py'),
    python: PYTHON,
    size: 1,
    codec: 'msgpack',
    maxPayload: Math.min(0xffff_ffff, Math.max(1 << 30, 2 * largest)),
    timeout: 0,
  });
  const rows: Row[] = [];
  try {
    for (const c of CASES) {
      const { value, bytes } = payloadFor(c);
      await pool.execute('prepare', { kind: c.kind, n: c.n });
      const ops: Record<Direction, Record<string, () => Promise<void>>> = {
        'to python': {
          raw: async () => {
            const ack = await raw.request(bytes);
            if (Number(ack.readBigUInt64BE(0)) !== c.bytes) throw new Error('raw: wrong size acknowledged');
          },
          pool: async () => {
            if ((await pool.execute('consume', { data: value })) !== c.bytes) throw new Error('pool: wrong size');
          },
          ...(shmPeer && {
            shm: async () => {
              const file = shmPath();
              writeFileFrom(file, bytes);
              await shmPeer.request(Buffer.from(`take ${file} ${c.bytes}`));
            },
          }),
        },
        'to node': {
          raw: async () => {
            if ((await raw.request(u64(c.bytes))).length !== c.bytes) throw new Error('raw: wrong size');
          },
          pool: async () => {
            const got = (await pool.execute('produce', { kind: c.kind, n: c.n })) as Buffer | NDArray;
            if (got.byteLength !== c.bytes) throw new Error('pool: wrong size');
          },
          ...(shmPeer && {
            shm: async () => {
              const file = shmPath();
              await shmPeer.request(Buffer.from(`give ${file} ${c.bytes}`));
              if (readFileFresh(file, c.bytes).length !== c.bytes) throw new Error('shm: wrong size');
            },
          }),
        },
      };
      for (const direction of DIRECTIONS) {
        const names = Object.keys(ops[direction]);
        for (const name of names) await ops[direction][name]!(); // warm-up
        const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
        for (let round = 0; round < ROUNDS; round++) {
          const order = round % 2 === 0 ? names : [...names].reverse();
          for (const name of order) times[name]!.push(...(await timeOps(c.reps, ops[direction][name]!)));
        }
        const gbps = (name: string): number => c.bytes / median(times[name]!) / 1e9;
        const row: Row = { case: c.name, direction, bytes: c.bytes, raw: gbps('raw'), pool: gbps('pool') };
        if (times.shm) row.shm = gbps('shm');
        rows.push(row);
        printRow(row);
      }
      await pool.execute('release');
    }
  } finally {
    raw.close();
    shmPeer?.close();
    await pool.close();
  }
  printTable(rows, shm);
  if (args.json !== undefined) {
    writeFileSync(args.json, JSON.stringify({ machine: machine(), rounds: ROUNDS, rows }, null, 2));
  }
}

function machine(): Record<string, unknown> {
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
}

function printRow(r: Row): void {
  process.stderr.write(`  ${r.case.padEnd(13)} ${r.direction.padEnd(9)} raw ${r.raw.toFixed(2)} GB/s  pool ${r.pool.toFixed(2)} GB/s${r.shm !== undefined ? `  shm ${r.shm.toFixed(2)} GB/s` : ''}\n`);
}

function printTable(rows: Row[], shm: boolean): void {
  const head = ['case', 'direction', 'raw GB/s', 'pool GB/s', 'pool/raw', ...(shm ? ['shm GB/s', 'shm/raw'] : []), 'target'];
  const lines = rows.map((r) => {
    const ratio = r.pool / r.raw;
    const target = r.bytes >= 1e8 ? (ratio >= 0.8 && r.pool > 1 ? 'ok' : 'BELOW') : '';
    return [r.case, r.direction, r.raw.toFixed(2), r.pool.toFixed(2), ratio.toFixed(2), ...(shm ? [r.shm!.toFixed(2), (r.shm! / r.raw).toFixed(2)] : []), target];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\nbulk data, ${ROUNDS} rounds, medians (${machine().cpus} CPUs, ${machine().memGiB} GiB, Node ${process.version})`);
  console.log(fmt(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
  console.log('target: at 100 MB and more, pool >= 0.8 x raw and pool > 1 GB/s');
}

await main();
