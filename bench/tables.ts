/**
 * Tables and tensors, both ways, against baselines measured side by side in one run.
 *
 *   node --import tsx bench/tables.ts [--full] [--rounds 3] [--json FILE]
 *
 * Table: 10 mixed columns (3 float64, 3 int64, 2 strings, a bool, a UTC timestamp), 100,000 rows by
 * default, 1,000,000 with --full. Tensor: float32 of 1e6 elements, 1e7 with --full.
 * Contenders, per direction:
 *   arrow     the pool, a pyarrow Table <-> an apache-arrow Table (Arrow IPC bytes as an attachment)
 *   pandas    the pool, a pandas DataFrame returned (to node) or a parameter annotated pd.DataFrame (to python)
 *   records   the pool, the same rows as a list of dicts <-> an array of objects (MessagePack)
 *   json      what python-shell and pythonia need: the records as JSON text on a bare framed pipe
 *             (json.dumps + JSON.parse, or JSON.stringify + json.loads), bench/tables_peer.py
 *   raw       bytes of the Arrow IPC size on the same bare pipe (the ceiling of any transport)
 *   tensor    the pool, a torch.Tensor <-> NDArray (a parameter annotated torch.Tensor), against raw
 *             bytes of the same size
 * Figures are medians over the rounds; ratios are against raw (throughput) and arrow (speed-up).
 */

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as arrow from 'apache-arrow';
import { PYTHON } from './lib/env.js';
import { FramedPeer } from './lib/framed-peer.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const lib = (await import(new URL('../dist/index.js', import.meta.url).href)) as typeof import('../src/index.js');
lib.useArrow(arrow);

const { values: args } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const ROWS = args.full ? 1_000_000 : 100_000;
const TENSOR = args.full ? 10_000_000 : 1_000_000;
const ROUNDS = Number(args.rounds);


function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function seconds(op: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await op();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wrong result: ${what}`);
}

interface Row {
  case: string;
  direction: string;
  contender: string;
  seconds: number;
  bytes: number;
}

async function main(): Promise<void> {
  const peer = new FramedPeer(path.join(HERE, 'tables_peer.py'));
  const pool = await lib.Pool.start({
    adapter: path.join(HERE, 'tables_adapter.py'),
    python: PYTHON,
    size: 1,
    codec: 'msgpack',
    maxPayload: 0xffff_ffff,
    timeout: 0,
    // Preparing a million rows of records in the worker is long, single-threaded Python.
    heartbeatTimeout: 300_000,
  });
  const rows: Row[] = [];
  try {
    await pool.execute('prepare', { rows: ROWS, tensor: TENSOR });
    await peer.request(`prepare ${ROWS}`);
    const table = (await pool.execute('produce', { kind: 'arrow' })) as arrow.Table;
    const ipcBytes = arrow.tableToIPC(table, 'stream').byteLength;
    const records = (await pool.execute('produce', { kind: 'records' })) as Record<string, unknown>[];
    const tensor = (await pool.execute('produce', { kind: 'tensor' })) as InstanceType<typeof lib.NDArray>;
    const rawTable = new Uint8Array(ipcBytes);
    const rawTensor = new Uint8Array(TENSOR * 4);

    const cases: [string, string, string, number, () => Promise<void>][] = [
      ['table', 'to node', 'arrow', ipcBytes, async () => check(((await pool.execute('produce', { kind: 'arrow' })) as arrow.Table).numRows === ROWS, 'arrow')],
      ['table', 'to node', 'pandas', ipcBytes, async () => check(((await pool.execute('produce', { kind: 'pandas' })) as arrow.Table).numRows === ROWS, 'pandas')],
      ['table', 'to node', 'records', ipcBytes, async () => check(((await pool.execute('produce', { kind: 'records' })) as unknown[]).length === ROWS, 'records')],
      ['table', 'to node', 'json', ipcBytes, async () => check((JSON.parse((await peer.request('json')).toString('utf8')) as unknown[]).length === ROWS, 'json')],
      ['table', 'to node', 'raw', ipcBytes, async () => check((await peer.request(`raw ${ipcBytes}`)).length === ipcBytes, 'raw')],
      ['table', 'to python', 'arrow', ipcBytes, async () => check((await pool.execute('take_table', { t: table })) === ROWS, 'arrow')],
      ['table', 'to python', 'pandas', ipcBytes, async () => check((await pool.execute('take_frame', { t: table })) === ROWS, 'pandas')],
      ['table', 'to python', 'records', ipcBytes, async () => check((await pool.execute('take_records', { rows: records })) === ROWS, 'records')],
      ['table', 'to python', 'json', ipcBytes, async () => check(Number((await peer.request(JSON.stringify(records))).readBigUInt64BE(0)) === ROWS, 'json')],
      ['table', 'to python', 'raw', ipcBytes, async () => check(Number((await peer.request(rawTable.fill(0, 0, 1))).readBigUInt64BE(0)) === ipcBytes, 'raw')],
      ['tensor', 'to node', 'tensor', TENSOR * 4, async () => check(((await pool.execute('produce', { kind: 'tensor' })) as { size: number }).size === TENSOR, 'tensor')],
      ['tensor', 'to node', 'raw', TENSOR * 4, async () => check((await peer.request(`raw ${TENSOR * 4}`)).length === TENSOR * 4, 'raw')],
      ['tensor', 'to python', 'tensor', TENSOR * 4, async () => check((await pool.execute('take_tensor', { t: tensor })) === TENSOR, 'tensor')],
      ['tensor', 'to python', 'raw', TENSOR * 4, async () => check(Number((await peer.request(rawTensor)).readBigUInt64BE(0)) === TENSOR * 4, 'raw')],
    ];
    const times = new Map<number, number[]>(cases.map((_, i) => [i, []]));
    for (let i = 0; i < cases.length; i++) await cases[i]![4](); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? cases.map((_, i) => i) : cases.map((_, i) => cases.length - 1 - i);
      for (const i of order) times.get(i)!.push(await seconds(cases[i]![4]));
    }
    cases.forEach(([name, direction, contender, bytes], i) => rows.push({ case: name, direction, contender, bytes, seconds: median(times.get(i)!) }));
  } finally {
    await pool.close();
    peer.close();
  }
  report(rows);
  if (args.json) writeFileSync(args.json, JSON.stringify({ rows: ROWS, tensor: TENSOR, rounds: ROUNDS, results: rows }, null, 2));
}

function report(rows: Row[]): void {
  console.log(`tables: ${ROWS.toLocaleString('en')} rows x 10 columns; tensor: ${TENSOR.toLocaleString('en')} float32; ${ROUNDS} rounds (medians)`);
  for (const [name, base] of [['table', 'arrow'], ['tensor', 'tensor']] as const) {
    for (const direction of ['to node', 'to python']) {
      const group = rows.filter((r) => r.case === name && r.direction === direction);
      const raw = group.find((r) => r.contender === 'raw')!;
      const main = group.find((r) => r.contender === base)!;
      console.log(`\n${name} ${direction} (payload ${(main.bytes / 1e6).toFixed(1)} MB)`);
      console.log('contender   ms        GB/s    vs raw   ' + (name === 'table' ? 'arrow speed-up' : ''));
      for (const r of group) {
        const gbps = r.bytes / r.seconds / 1e9;
        const speedup = name === 'table' && r.contender !== base ? `${(r.seconds / main.seconds).toFixed(1)}x slower than arrow` : '';
        console.log(`${r.contender.padEnd(10)}  ${(r.seconds * 1000).toFixed(1).padStart(8)}  ${gbps.toFixed(2).padStart(6)}  ${(raw.seconds / r.seconds).toFixed(2).padStart(7)}   ${speedup}`);
      }
    }
  }
}

await main();
