/**
 * Per-second figures for the dashboard: calls settled, failures, and latency percentiles of each
 * second, over the last `seconds` seconds. Latencies are sampled (at most 512 per second), so memory
 * and the cost per call stay bounded.
 */

const SAMPLES = 512;

export interface SecondFigures {
  /** Start of the second, ms since the epoch. */
  readonly t: number;
  readonly calls: number;
  readonly errors: number;
  /** Submission to settlement, ms (0 when no call settled that second). */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export class Series {
  private readonly done: SecondFigures[] = [];
  private second = Math.floor(Date.now() / 1000);
  private calls = 0;
  private errors = 0;
  private samples: number[] = [];
  total = 0;

  constructor(private readonly seconds = 300) {}

  record(ok: boolean, ms: number): void {
    this.roll();
    this.calls++;
    this.total++;
    if (!ok) this.errors++;
    if (this.samples.length < SAMPLES) this.samples.push(ms);
    else {
      const i = Math.floor(Math.random() * this.calls);
      if (i < SAMPLES) this.samples[i] = ms;
    }
  }

  /** Close the seconds that have passed (empty ones included). */
  roll(): void {
    const now = Math.floor(Date.now() / 1000);
    if (now === this.second) return;
    const sorted = this.samples.sort((a, b) => a - b);
    const pick = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
    this.push({ t: this.second * 1000, calls: this.calls, errors: this.errors, p50: pick(0.5), p90: pick(0.9), p99: pick(0.99) });
    for (let s = Math.max(this.second + 1, now - this.seconds); s < now; s++) {
      this.push({ t: s * 1000, calls: 0, errors: 0, p50: 0, p90: 0, p99: 0 });
    }
    this.second = now;
    this.calls = this.errors = 0;
    this.samples = [];
  }

  private push(figures: SecondFigures): void {
    this.done.push(figures);
    if (this.done.length > this.seconds) this.done.shift();
  }

  /** The closed seconds, oldest first, then the current second so far (so a chart moves at once). */
  history(): readonly SecondFigures[] {
    this.roll();
    const sorted = [...this.samples].sort((a, b) => a - b);
    const pick = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : 0);
    const current = { t: this.second * 1000, calls: this.calls, errors: this.errors, p50: pick(0.5), p90: pick(0.9), p99: pick(0.99) };
    return [...this.done, current];
  }
}
