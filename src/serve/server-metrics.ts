/** Latency buckets in seconds: 5 ms to 10 s. */
const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Batch sizes as the batcher produces them (maxBatch defaults to 32). */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64] as const;

type Labels = Readonly<Record<string, string>>;

class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(readonly buckets: readonly number[]) {}

  observe(labels: Labels, value: number): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]!++;
    });
    s.sum += value;
    s.count++;
  }

  render(name: string, help: string): string[] {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.counts[i]}`));
      lines.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${name}_sum${labelText(s.labels)} ${s.sum}`, `${name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

class Counter {
  private readonly series = new Map<string, { labels: Labels; value: number }>();

  inc(labels: Labels, by = 1): void {
    const key = labelText(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels, value: by });
  }

  render(name: string, help: string): string[] {
    return [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...[...this.series.values()].map((s) => `${name}${labelText(s.labels)} ${s.value}`)];
  }
}

/**
 * The server's counters and histograms, rendered in the Prometheus text format (version 0.0.4).
 * One instance per server, so two servers in one process never mix their numbers.
 */
export class ServerMetrics {
  private readonly requests = new Counter();
  private readonly latency = new Histogram(LATENCY_BUCKETS_S);
  private readonly batchSize = new Histogram(BATCH_SIZE_BUCKETS);
  private readonly inference = new Histogram(LATENCY_BUCKETS_S);
  private readonly reloads = new Counter();
  private largestBatch = 0;

  /** One finished HTTP request; `route` is the route pattern (e.g. /v1/models/:name/predict), never the raw URL. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.latency.observe({ route, method }, seconds);
  }

  /** One ORT run of `size` images. */
  observeBatch(model: string, size: number, seconds: number): void {
    this.batchSize.observe({ model }, size);
    this.inference.observe({ model }, seconds);
    this.largestBatch = Math.max(this.largestBatch, size);
  }

  observeReload(model: string, isOk: boolean): void {
    this.reloads.inc({ model, result: isOk ? 'ok' : 'failed' });
  }

  /** Largest batch run so far (also in the histogram; handy for tests and the bench). */
  get maxBatchSeen(): number {
    return this.largestBatch;
  }

  render(modelsLoaded: number): string {
    return [
      ...this.requests.render('graft_http_requests_total', 'HTTP requests by route, method and status.'),
      ...this.latency.render('graft_http_request_duration_seconds', 'HTTP request latency.'),
      ...this.batchSize.render('graft_batch_size', 'Images per onnxruntime run (dynamic batching).'),
      ...this.inference.render('graft_inference_duration_seconds', 'onnxruntime time per batch.'),
      ...this.reloads.render('graft_model_reloads_total', 'Hot reloads of a model directory.'),
      '# HELP graft_models_loaded Models currently served.',
      '# TYPE graft_models_loaded gauge',
      `graft_models_loaded ${modelsLoaded}`,
      '',
    ].join('\n');
  }
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
