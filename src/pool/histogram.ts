/**
 * A fixed-size log-linear histogram of durations in milliseconds: constant memory, percentiles within
 * about 3%. Buckets cover 1 µs to ~1.2 days.
 */

const SUB_BUCKETS = 32; // per power of two
const MIN = 0.001; // ms
const POWERS = 37;
/** 2 ** i for each power a bucket can have: `record` runs for every call, and `**` costs a libm call. */
const POW2 = Float64Array.from({ length: POWERS }, (_, i) => 2 ** i);
/** Below this, `31 - Math.clz32(x)` is `Math.floor(Math.log2(x))` without the libm call. */
const CLZ_LIMIT = 2 ** 31;

export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export class Histogram {
  private readonly counts = new Uint32Array(SUB_BUCKETS * POWERS);
  private count = 0;
  private sum = 0;
  private min = Infinity;
  private max = 0;

  record(ms: number): void {
    const v = ms < MIN ? MIN : ms;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    const scaled = v / MIN;
    const power = scaled < CLZ_LIMIT ? 31 - Math.clz32(scaled) : Math.min(POWERS - 1, Math.floor(Math.log2(scaled)));
    const base = POW2[power]!;
    const sub = Math.min(SUB_BUCKETS - 1, Math.floor(((scaled - base) / base) * SUB_BUCKETS));
    this.counts[power * SUB_BUCKETS + sub]!++;
  }

  private percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(p * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const power = Math.floor(i / SUB_BUCKETS);
        const sub = i % SUB_BUCKETS;
        const upper = 2 ** power * (1 + (sub + 1) / SUB_BUCKETS) * MIN;
        return Math.min(this.max, Math.max(this.min, upper));
      }
    }
    return this.max;
  }

  summary(): Summary {
    return Object.freeze({
      count: this.count,
      mean: this.count ? this.sum / this.count : 0,
      min: this.count ? this.min : 0,
      max: this.max,
      p50: this.percentile(0.5),
      p90: this.percentile(0.9),
      p99: this.percentile(0.99),
    });
  }
}
