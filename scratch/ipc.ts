import * as arrow from 'apache-arrow';
const n = 1_000_000;
const t = arrow.tableFromArrays({ a: new Float64Array(n), b: new Float64Array(n), c: new BigInt64Array(n), d: new Int32Array(n) });
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const b = arrow.tableToIPC(t, 'stream');
  const t1 = performance.now();
  const w = arrow.RecordBatchStreamWriter.writeAll(t);
  const chunks: Uint8Array[] = [];
  // @ts-ignore
  for (const c of (w as any)._sink._values ?? []) chunks.push(c);
  const t2 = performance.now();
  console.log('tableToIPC ms', (t1 - t0).toFixed(1), 'MB', (b.byteLength / 1e6).toFixed(1), 'writeAll', (t2 - t1).toFixed(1), chunks.length);
}
