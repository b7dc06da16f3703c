// Dynamic batching: requests queue up and run as one forward pass when the queue holds maxBatchSize
// instances or its oldest request has waited maxWaitMs; each request then gets its own rows back.
// While maxInFlight passes run, requests keep queueing, so a busy server batches more by itself.

/** Runs rows instances (rows x size values) through the model; resolves to rows x outSize values. */
export type RunBatch = (data: Float32Array, rows: number) => Promise<Float32Array>;

export interface BatcherOptions {
  /** false: every request is its own forward pass, run as soon as it arrives (default true) */
  enabled?: boolean;
  /** instances per forward pass at most; one request larger than this runs alone (default 64) */
  maxBatchSize?: number;
  /**
   * how long the oldest queued request may wait for others, in ms (default 0, as Triton's queue delay: a pass
   * takes what queued while the previous one ran, and the requests that arrived in the same event-loop turn)
   */
  maxWaitMs?: number;
  /** forward passes running at once (default 1: one pass uses libtorch's intra-op threads) */
  maxInFlight?: number;
}

interface Pending {
  data: Float32Array;
  rows: number;
  arrived: number;
  resolve: (out: Float32Array) => void;
  reject: (e: unknown) => void;
}

export interface BatcherStats {
  enabled: boolean;
  maxBatchSize: number;
  maxWaitMs: number;
  maxInFlight: number;
  /** requests answered (or failed) by a forward pass */
  requests: number;
  instances: number;
  forwardPasses: number;
  /** forward passes by their number of instances */
  batchSizes: Record<string, number>;
  /** requests per forward pass, as batchSizes */
  requestsPerPass: Record<string, number>;
  queued: number;
  inFlight: number;
}

export class Batcher {
  readonly enabled: boolean;
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly maxInFlight: number;
  private queue: Pending[] = [];
  private queuedRows = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private requests = 0;
  private instances = 0;
  private passes = 0;
  private readonly sizes = new Map<number, number>();
  private readonly perPass = new Map<number, number>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly run: RunBatch, opts: BatcherOptions = {}) {
    this.enabled = opts.enabled ?? true;
    this.maxBatchSize = opts.maxBatchSize ?? 64;
    this.maxWaitMs = opts.maxWaitMs ?? 0;
    this.maxInFlight = opts.maxInFlight ?? 1;
    if (!Number.isSafeInteger(this.maxBatchSize) || this.maxBatchSize < 1) {
      throw new TypeError(`Batcher: expected maxBatchSize to be a positive integer but received ${this.maxBatchSize}`);
    }
    if (!(Number.isFinite(this.maxWaitMs) && this.maxWaitMs >= 0)) {
      throw new TypeError(`Batcher: expected maxWaitMs to be a number >= 0 but received ${this.maxWaitMs}`);
    }
    if (!Number.isSafeInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new TypeError(`Batcher: expected maxInFlight to be a positive integer but received ${this.maxInFlight}`);
    }
  }

  /** The model's outputs for rows instances (rows x size values), from a shared forward pass. */
  predict(data: Float32Array, rows: number): Promise<Float32Array> {
    if (!this.enabled) return this.runDirect(data, rows);
    return new Promise((resolve, reject) => {
      this.queue.push({ data, rows, arrived: performance.now(), resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  stats(): BatcherStats {
    const obj = (m: Map<number, number>) => Object.fromEntries([...m].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]));
    return {
      enabled: this.enabled, maxBatchSize: this.maxBatchSize, maxWaitMs: this.maxWaitMs, maxInFlight: this.maxInFlight,
      requests: this.requests, instances: this.instances, forwardPasses: this.passes,
      batchSizes: obj(this.sizes), requestsPerPass: obj(this.perPass), queued: this.queue.length, inFlight: this.inFlight,
    };
  }

  /** Resolves once nothing is queued or running (graceful shutdown). */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private count(rows: number, requests: number): void {
    this.passes++;
    this.requests += requests;
    this.instances += rows;
    this.sizes.set(rows, (this.sizes.get(rows) ?? 0) + 1);
    this.perPass.set(requests, (this.perPass.get(requests) ?? 0) + 1);
  }

  private async runDirect(data: Float32Array, rows: number): Promise<Float32Array> {
    this.inFlight++;
    this.count(rows, 1);
    try {
      return await this.run(data, rows);
    } finally {
      this.inFlight--;
      this.notifyIdle();
    }
  }

  /**
   * Starts a pass at once when a full batch is queued; otherwise when the oldest request's wait ends,
   * one event-loop turn later at the earliest, so requests that arrived in the same turn join it.
   */
  private schedule(): void {
    while (this.queue.length && this.inFlight < this.maxInFlight && this.queuedRows >= this.maxBatchSize) this.flushOne();
    if (!this.queue.length || this.inFlight >= this.maxInFlight || this.timer) return; // a finishing pass schedules again
    const wait = this.maxWaitMs - (performance.now() - this.queue[0].arrived);
    this.timer = wait > 0 ? setTimeout(() => this.onTimer(), Math.ceil(wait)) : setImmediate(() => this.onTimer());
  }

  private onTimer(): void {
    this.timer = null;
    // the head may be a newer request than the one this timer waited for (a full batch left meanwhile)
    if (this.queue.length && this.inFlight < this.maxInFlight && performance.now() - this.queue[0].arrived >= this.maxWaitMs) this.flushOne();
    this.schedule();
  }

  /** Takes requests from the head of the queue up to maxBatchSize instances (at least one) and runs them. */
  private flushOne(): void {
    const batch: Pending[] = [];
    let rows = 0;
    while (this.queue.length && (batch.length === 0 || rows + this.queue[0].rows <= this.maxBatchSize)) {
      const p = this.queue.shift()!;
      batch.push(p);
      rows += p.rows;
    }
    this.queuedRows -= rows;
    this.inFlight++;
    this.count(rows, batch.length);
    void this.runBatch(batch, rows);
  }

  private async runBatch(batch: Pending[], rows: number): Promise<void> {
    try {
      let data: Float32Array;
      if (batch.length === 1) data = batch[0].data;
      else {
        data = new Float32Array(batch.reduce((n, p) => n + p.data.length, 0));
        let o = 0;
        for (const p of batch) {
          data.set(p.data, o);
          o += p.data.length;
        }
      }
      const out = await this.run(data, rows);
      const per = out.length / rows;
      let r = 0;
      for (const p of batch) {
        p.resolve(out.subarray(r * per, (r + p.rows) * per));
        r += p.rows;
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.inFlight--;
      this.schedule();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.queue.length || this.inFlight) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }
}
