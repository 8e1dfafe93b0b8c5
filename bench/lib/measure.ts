/** Measurement primitives: sequential latency, throughput with N calls in flight, percentiles. */

export type Caller = () => Promise<unknown>;

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export interface Latency {
  /** Microseconds. */
  p50: number;
  p99: number;
  mean: number;
  n: number;
}

/** `n` calls one after the other; per-call round trip in microseconds. */
export async function sequential(call: Caller, n: number): Promise<Latency> {
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    times[i] = (performance.now() - t0) * 1000;
  }
  const sorted = Array.from(times).sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / n;
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean, n };
}

/** `total` calls with `inFlight` outstanding at any time; calls per second. */
export async function throughput(call: Caller, total: number, inFlight: number): Promise<number> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < total) {
      started++;
      await call();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, lane));
  return total / ((performance.now() - t0) / 1000);
}

/**
 * Least-squares line through the points: its slope, and the slope's standard error (how far the
 * slope could be from the truth given the scatter of the points; 0 with fewer than three points).
 */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; stderr: number } {
  const n = xs.length;
  const mx = xs.reduce((a, x) => a + x, 0) / n;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxy / sxx;
  if (n < 3) return { slope, stderr: 0 };
  let residuals = 0;
  for (let i = 0; i < n; i++) residuals += (ys[i]! - my - slope * (xs[i]! - mx)) ** 2;
  return { slope, stderr: Math.sqrt(residuals / (n - 2) / sxx) };
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Render rows as a fixed-width text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
