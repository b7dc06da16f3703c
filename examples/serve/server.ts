// An HTTP inference service for a model saved with model.save(dir): Fastify routes, JSON and raw
// float32 requests, dynamic batching (batcher.ts) and the forward pass off the event loop
// (model.predict runs in libtorch on a libuv worker thread). See README.md in this folder.
//
//   npx tsx examples/serve/server.ts --model my_model_dir --port 8080
import * as os from 'os';
import * as path from 'path';
import { STATUS_CODES } from 'http';
import { monitorEventLoopDelay } from 'perf_hooks';
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as nt from '../../lib';
import { Batcher, BatcherStats } from './batcher';
import { fromBinary, fromJson, fromJsonInputs, InputSpec, RequestError } from './inputs';
import { createSeedModel } from './seed';

/** Charsets a JSON body may declare (WHATWG names Node can decode), by their lower-case label. */
const CHARSETS: Record<string, BufferEncoding> = {
  'utf-8': 'utf8', utf8: 'utf8', 'us-ascii': 'latin1', ascii: 'latin1', 'iso-8859-1': 'latin1', latin1: 'latin1',
  'utf-16le': 'utf16le', 'utf-16': 'utf16le',
};

/** The deepest nesting of [ and { outside strings, stopping as soon as it passes max. */
function jsonDepthOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** A JSON request body: decoded in its declared charset, its depth bounded, then parsed. */
function parseJsonBody(body: Buffer, contentType: string, maxDepth: number): unknown {
  const declared = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1].toLowerCase() ?? 'utf-8';
  const encoding = CHARSETS[declared];
  if (!encoding) {
    throw new RequestError(415, `charset ${JSON.stringify(declared)} is not supported for JSON`, 'charset=utf-8 (or utf-16le, iso-8859-1)');
  }
  const text = body.toString(encoding);
  // errors carry a statusCode (and Fastify's code for an empty body): the error handler words them
  if (text.trim() === '') throw Object.assign(new Error('the request body is empty'), { statusCode: 400, code: 'FST_ERR_CTP_EMPTY_JSON_BODY' });
  if (jsonDepthOver(text, maxDepth)) {
    throw Object.assign(new Error(`the JSON body is nested deeper than ${maxDepth} levels`), { statusCode: 400 });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw Object.assign(e as Error, { statusCode: 400 });
  }
}

export interface ServerOptions {
  /** a directory written by model.save() (loaded with nt.loadModel), a model (Sequential, Functional or subclassed), or a promise of one */
  model: string | nt.Model | Promise<nt.Model>;
  /** dynamic batching of concurrent requests (default true); false: one forward pass per request */
  batching?: boolean;
  /** instances per forward pass at most (default 64) */
  maxBatchSize?: number;
  /** how long a request may wait for others to share its forward pass, in ms (default 0: see batcher.ts) */
  maxWaitMs?: number;
  /** forward passes running at once when batching (default 1) */
  maxInFlight?: number;
  /** largest request body in bytes; larger ones get 413 (default 8 MiB) */
  bodyLimit?: number;
  /** ms a request may take to arrive whole, headers and body (default 10 s): slow senders (slowloris) get 408 and are closed */
  requestTimeout?: number;
  /** ms the headers may take to arrive (default 5 s) */
  headersTimeout?: number;
  /** open connections at most; more are refused at once (default 1024) */
  maxConnections?: number;
  /** deepest nesting of arrays/objects a JSON body may have (default: the input's rank + 4, at least 8) */
  maxJsonDepth?: number;
  /** most bytes of weights the server loads from a model directory (nt.loadModel's maxBytes; default 1 GiB) */
  maxModelBytes?: number;
  /** libtorch intra-op threads for the whole process (nt.setNumThreads); default: leave as is */
  threads?: number;
  /** Fastify's logger (pino) options, or true; default off */
  logger?: boolean | Record<string, unknown>;
}

/** What /readyz reports: the first input's and output's per-instance shapes, and every one by name for a model with several. */
export interface ModelInfo {
  name: string;
  inputShape: number[];
  outputShape: number[];
  inputs?: { name: string; shape: number[] }[];
  outputs?: { name: string; shape: number[] }[];
}

/** A model's inputs as the server takes them: names and per-instance shapes (fixed sizes), from the public model API. */
export function modelInputs(m: nt.Model): { names: string[]; shapes: number[][] } {
  const where = `createServer: the model '${m.name}'`;
  if (m instanceof nt.Sequential) {
    const shape = m.layers[0]?.builtInputShape;
    if (!shape) throw new Error(`${where} is not built; build it (or give its first layer an inputShape) before serving`);
    return { names: ['input'], shapes: [[...shape]] };
  }
  if (m.inputs.length > 0) {
    const shapes = m.inputs.map((t, i) => {
      if (t.shape.some((d) => d === null)) {
        throw new Error(`${where} has input '${m.inputNames![i]}' of shape [${t.shape.map((d) => d ?? 'None').join(', ')}]; serving needs inputs of fixed shape`);
      }
      return t.shape as number[];
    });
    return { names: m.inputNames!, shapes };
  }
  const built = m.getBuildConfig();
  if (!built) throw new Error(`${where} (subclassed) is not built; call model.build(inputShape) (or fit/predict once) before serving`);
  return { names: ['input'], shapes: [built.inputShape] };
}

export interface ServerStats {
  status: 'loading' | 'ready' | 'failed' | 'closing';
  uptimeSeconds: number;
  model: ModelInfo | null;
  /** HTTP responses by status code */
  responses: Record<string, number>;
  batcher: BatcherStats;
  /** event-loop delay since start, ms (a 10 ms resolution histogram) */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

export interface InferenceServer {
  readonly app: FastifyInstance;
  /** Resolves once the model is loaded and warmed up (GET /readyz answers 200 from then on); rejects if loading failed. */
  readonly ready: Promise<void>;
  /** Starts listening (default 127.0.0.1, port 0: any free port); resolves to the base URL. */
  listen(opts?: { host?: string; port?: number }): Promise<string>;
  /** Stops accepting requests, answers those in progress, then closes (readyz says 503 meanwhile). */
  close(): Promise<void>;
  stats(): ServerStats;
}

const MiB = 1 << 20;

/** Values of a flat array nested by shape (the first dimension first). */
function nest(v: Float32Array, shape: readonly number[], dim = 0, offset = 0): unknown[] {
  const n = shape[dim];
  const out = new Array(n);
  if (dim === shape.length - 1) {
    for (let i = 0; i < n; i++) out[i] = v[offset + i];
    return out;
  }
  const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) out[i] = nest(v, shape, dim + 1, offset + i * stride);
  return out;
}

function positive(name: string, v: number | undefined, integer = true): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !(integer ? Number.isSafeInteger(v) && v > 0 : v >= 0 && Number.isFinite(v))) {
    throw new TypeError(`createServer: expected ${name} to be a ${integer ? 'positive integer' : 'number >= 0'} but received ${String(v)}`);
  }
}

export function createServer(options: ServerOptions): InferenceServer {
  if (!options || typeof options !== 'object') throw new TypeError('createServer: expected an options object with a model');
  const { model: source } = options;
  if (typeof source !== 'string' && !(source instanceof nt.Model) && !(source instanceof Promise)) {
    throw new TypeError('createServer: expected model to be a saved model directory, a Keras model (Sequential, Functional or subclassed) or a promise of one');
  }
  positive('maxBatchSize', options.maxBatchSize);
  positive('maxWaitMs', options.maxWaitMs, false);
  positive('maxInFlight', options.maxInFlight);
  positive('bodyLimit', options.bodyLimit);
  positive('threads', options.threads);
  positive('requestTimeout', options.requestTimeout);
  positive('headersTimeout', options.headersTimeout);
  positive('maxConnections', options.maxConnections);
  positive('maxJsonDepth', options.maxJsonDepth);
  positive('maxModelBytes', options.maxModelBytes);
  if (options.threads !== undefined) nt.setNumThreads(options.threads);
  const bodyLimit = options.bodyLimit ?? 8 * MiB;

  let status: ServerStats['status'] = 'loading';
  let loadError = '';
  let model: nt.Model | null = null;
  // one spec per model input; spec covers a whole instance (every input's values, in order)
  let specs: InputSpec[] = [];
  let inputNames: string[] = [];
  let spec: InputSpec | null = null;
  let info: ModelInfo | null = null;
  let outputs: { name: string; shape: number[] }[] = [];
  const started = performance.now();
  const responses = new Map<number, number>();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  // One forward pass: the batch as a tensor (split per input), model.predict off the event loop, the
  // outputs as float32 (several outputs: each instance's outputs one after another, in order).
  const runBatch = async (data: Float32Array, rows: number): Promise<Float32Array> => {
    const x = nt.tensor(data, { shape: [rows, spec!.size] });
    let offset = 0;
    const xs = specs.map((s) => {
      const part = x.narrow(1, offset, s.size).reshape([rows, ...s.shape]);
      offset += s.size;
      return part;
    });
    try {
      const y = await model!.predict(xs.length === 1 ? xs[0] : xs, { batchSize: rows });
      const ys = Array.isArray(y) ? y as nt.Tensor[] : [y as nt.Tensor];
      try {
        if (ys.length === 1) return ys[0].dataSync() as Float32Array;
        return nt.cat(ys.map((t) => t.reshape([rows, -1]).to('float32')), 1).dataSync() as Float32Array;
      } finally {
        ys.forEach((t) => t.dispose());
      }
    } finally {
      xs.forEach((t) => t.dispose());
      x.dispose();
    }
  };
  const batcher = new Batcher(runBatch, {
    enabled: options.batching ?? true, maxBatchSize: options.maxBatchSize, maxWaitMs: options.maxWaitMs, maxInFlight: options.maxInFlight,
  });

  const ready = (async () => {
    const m = typeof source === 'string' ? await nt.loadModel(source, { maxBytes: options.maxModelBytes ?? 1024 * MiB }) : await source;
    if (!(m instanceof nt.Model)) throw new TypeError('createServer: the model promise resolved to something other than a Keras model');
    const io = modelInputs(m);
    // Warm-up: the first pass allocates libtorch's caches and the worker thread's state.
    const xs = io.shapes.map((s) => nt.zeros([1, ...s]));
    const y = await m.predict(xs.length === 1 ? xs[0] : xs, { batchSize: 1 });
    const ys = Array.isArray(y) ? y as nt.Tensor[] : [y as nt.Tensor];
    const outNames = m.outputs.length === ys.length ? m.outputs.map((t) => t.node.layer.name) : ys.map((_, i) => `output_${i}`);
    outputs = ys.map((t, i) => ({ name: outNames.indexOf(outNames[i]) === i ? outNames[i] : `${outNames[i]}_${i}`, shape: t.shape.slice(1) }));
    info = { name: m.name, inputShape: [...io.shapes[0]], outputShape: outputs[0].shape };
    if (io.shapes.length > 1 || ys.length > 1) {
      info.inputs = io.names.map((name, i) => ({ name, shape: [...io.shapes[i]] }));
      info.outputs = outputs.map((o) => ({ name: o.name, shape: [...o.shape] }));
    }
    xs.forEach((t) => t.dispose());
    ys.forEach((t) => t.dispose());
    model = m;
    specs = io.shapes.map((s) => new InputSpec(s));
    inputNames = io.names;
    spec = specs.length === 1 ? specs[0] : new InputSpec([specs.reduce((n, s) => n + s.size, 0)]);
    if (status === 'loading') status = 'ready';
  })();
  ready.catch((e: Error) => {
    status = 'failed';
    loadError = e.message;
  });

  // A request must arrive whole within requestTimeout (slowloris connections are closed), and no more
  // than maxConnections are open at once: a flood cannot exhaust the process's file descriptors.
  const requestTimeout = options.requestTimeout ?? 10_000;
  const app = Fastify({ bodyLimit, logger: options.logger ?? false, requestTimeout, connectionTimeout: requestTimeout + 1000, keepAliveTimeout: 5000 });
  app.server.headersTimeout = Math.min(options.headersTimeout ?? 5000, requestTimeout);
  app.server.maxConnections = options.maxConnections ?? 1024;
  app.removeContentTypeParser('text/plain');
  // JSON in the charset the request declares, refused when nested deeper than any instance is before
  // it is parsed (a deep body would otherwise block the event loop in JSON.parse and its walk).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    try {
      // by default an instance's own depth plus the envelope ({ "instances": [ ... ] }) and a little room
      const depth = options.maxJsonDepth ?? Math.max(8, (spec?.shape.length ?? 0) + 4);
      done(null, parseJsonBody(body as Buffer, String(req.headers['content-type'] ?? ''), depth));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const expected = () => spec?.expected ?? 'the model is still loading; wait for GET /readyz to answer 200';
  const send = (reply: FastifyReply, code: number, message: string, exp?: string) =>
    reply.code(code).type('application/json; charset=utf-8').send({ error: STATUS_CODES[code], message, ...(exp ? { expected: exp } : {}) });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof RequestError) return send(reply, err.statusCode, err.message, err.expected);
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (code === 413) {
      const per = spec ? ` (${Math.floor(bodyLimit / (4 * spec.size))} instances as float32)` : '';
      return send(reply, 413, `the request body is larger than the server's limit of ${bodyLimit} bytes`,
        `at most ${bodyLimit} bytes per request${per}; split the instances over several requests`);
    }
    if (code === 415) {
      return send(reply, 415, `Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')} is not accepted`, expected());
    }
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return send(reply, 400, 'the request body is empty', expected());
    if (code === 400 && (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY')) {
      return send(reply, 400, `the body is not valid JSON (${err.message})`, expected());
    }
    if (code === 500) req.log.error(err);
    return send(reply, code, code === 500 ? `inference failed: ${err.message}` : err.message, code === 500 ? undefined : expected());
  });
  app.setNotFoundHandler((req, reply) =>
    send(reply, 404, `no route ${req.method} ${req.url}`, 'POST /predict, GET /healthz, GET /readyz or GET /metrics'));
  // Requests still running at close() end their keep-alive connection, or close() would wait for the client to hang up.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (status === 'closing') reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (_req, reply, done) => {
    responses.set(reply.statusCode, (responses.get(reply.statusCode) ?? 0) + 1);
    done();
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (status === 'ready') return { status, model: info };
    const message = status === 'failed' ? `the model failed to load: ${loadError}` : status === 'closing' ? 'the server is shutting down' : 'the model is loading';
    return reply.code(503).send({ status, message });
  });
  const stats = (): ServerStats => ({
    status,
    uptimeSeconds: (performance.now() - started) / 1000,
    model: info,
    responses: Object.fromEntries([...responses].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])),
    batcher: batcher.stats(),
    eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
  });
  app.get('/metrics', async () => stats());

  app.post('/predict', async (req: FastifyRequest, reply: FastifyReply) => {
    if (status !== 'ready' || !spec || !info) {
      return send(reply, 503, status === 'failed' ? `the model failed to load: ${loadError}` : status === 'closing' ? 'the server is shutting down' : 'the model is still loading',
        'retry once GET /readyz answers 200');
    }
    const binary = Buffer.isBuffer(req.body);
    const { data, rows } = binary ? fromBinary(req.body as Buffer, spec) : specs.length > 1 ? fromJsonInputs(req.body, specs, inputNames) : fromJson(req.body, spec);
    const out = await batcher.predict(data, rows);
    if (binary && !String(req.headers.accept ?? '').includes('application/json')) {
      if (outputs.length > 1) reply.header('x-output-shapes', outputs.map((o) => `${o.name}:${o.shape.join('x')}`).join(','));
      else reply.header('x-output-shape', [rows, ...info.outputShape].join(','));
      return reply.type('application/octet-stream').send(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    }
    if (outputs.length === 1) return { predictions: nest(out, [rows, ...info.outputShape]) };
    // several outputs: { name: per-output predictions }, split from each instance's concatenated row
    const width = out.length / rows;
    let at = 0;
    const predictions: Record<string, unknown[]> = {};
    for (const o of outputs) {
      const size = o.shape.reduce((a, b) => a * b, 1);
      const part = new Float32Array(rows * size);
      for (let r = 0; r < rows; r++) part.set(out.subarray(r * width + at, r * width + at + size), r * size);
      predictions[o.name] = nest(part, [rows, ...o.shape]);
      at += size;
    }
    return { predictions };
  });

  let closing: Promise<void> | null = null;
  return {
    app,
    ready,
    async listen(opts = {}) {
      return app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
    },
    close() {
      closing ??= (async () => {
        if (status !== 'failed') status = 'closing';
        await app.close();
        await batcher.drained();
        loopDelay.disable();
      })();
      return closing;
    },
    stats,
  };
}

// ---- command line ----

function parseArgs(argv: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (options start with --; see examples/serve/README.md)`);
    const key = a.slice(2);
    if (key === 'no-batching' || key === 'log' || key === 'help') out[key] = true;
    else if (i + 1 < argv.length) out[key] = argv[++i];
    else throw new Error(`--${key} needs a value`);
  }
  return out;
}

const USAGE = `usage: server.ts [--model DIR] [--host 127.0.0.1] [--port 8080] [--max-batch-size 64] [--max-wait-ms 0]
                 [--max-in-flight 1] [--no-batching] [--threads N] [--body-limit BYTES] [--train-samples 10000] [--log]
  --model DIR   a directory written by model.save() (or env MODEL_DIR); without one the seed MLP is
                trained briefly on MNIST (--train-samples, 0: untrained) and saved to a temporary directory
  --threads N   libtorch intra-op threads per forward pass at most (default: the core count; predict
                times its passes on all of them and on one and keeps the faster, so a busy machine or a
                small model runs on one; README "Threads and load")`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const num = (key: string, env?: string): number | undefined => {
    const v = args[key] ?? (env ? process.env[env] : undefined);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${key}: expected a number but got '${String(v)}'`);
    return n;
  };
  let dir = (args.model as string | undefined) ?? process.env.MODEL_DIR;
  if (!dir) {
    dir = path.join(os.tmpdir(), 'nodetorch-serve-seed-mlp');
    const trainSamples = num('train-samples') ?? 10_000;
    console.log(`no --model given (nor MODEL_DIR): serving the seed MLP of examples/mnist-mlp.ts instead`);
    await createSeedModel(dir, { trainSamples, log: (m) => console.log(m) });
  }
  const server = createServer({
    model: dir,
    batching: !args['no-batching'],
    maxBatchSize: num('max-batch-size'),
    maxWaitMs: num('max-wait-ms'),
    maxInFlight: num('max-in-flight'),
    threads: num('threads'),
    bodyLimit: num('body-limit'),
    logger: !!args.log,
  });
  const url = await server.listen({ host: (args.host as string | undefined) ?? process.env.HOST ?? '127.0.0.1', port: num('port', 'PORT') ?? 8080 });
  console.log(`listening on ${url} (model ${dir})`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: finishing requests in progress, then exiting`);
    server.close().then(() => process.exit(0), (e) => {
      console.error(e);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await server.ready;
  const s = server.stats();
  console.log(`ready: ${s.model!.name}, input [${s.model!.inputShape.join(', ')}], output [${s.model!.outputShape.join(', ')}], ` +
    `${s.batcher.enabled ? `batching up to ${s.batcher.maxBatchSize} instances or ${s.batcher.maxWaitMs} ms` : 'no batching'}, ` +
    `${nt.getNumThreads()} intra-op thread(s)`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
