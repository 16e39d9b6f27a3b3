// Summary statistics for the benchmark: median and spread of repetitions, percentiles of samples.

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Nearest-rank percentile (p in 0–100) of the samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(samples: number[]): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(samples: number[]): Summary {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), n: samples.length };
}

/** `812 ms (790–850)` or `1.23 s (1.20–1.31)`. */
export function formatSummary(s: Summary | undefined, unit: 'ms' = 'ms'): string {
  if (!s || Number.isNaN(s.median)) return 'n/a';
  const f = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ${unit}`);
  return s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}
