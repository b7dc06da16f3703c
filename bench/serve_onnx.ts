// The anchor for examples/serve: the same model exported with model.export(..., { format: 'onnx' })
// and served by onnxruntime-node behind the same Fastify routes (POST /predict JSON or raw float32,
// GET /healthz, /readyz, /metrics) with examples/serve's request parsing and dynamic batcher, so
// bench/serve.ts (--server onnxruntime / onnxruntime-nobatch) loads both the same way.
//
//   node bench/.out/bench/serve_onnx.js --model DIR [--port 0] [--threads 1] [--no-batching]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { STATUS_CODES } from 'http';
import Fastify, { FastifyReply, FastifyRequest } from 'fastify';
import * as ort from 'onnxruntime-node';
import * as nt from '../lib';
import { Batcher } from '../examples/serve/batcher';
import { fromBinary, fromJson, InputSpec, RequestError } from '../examples/serve/inputs';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function nest(v: Float32Array, rows: number, per: number): number[][] {
  return Array.from({ length: rows }, (_, r) => Array.from(v.subarray(r * per, (r + 1) * per)));
}

async function main(): Promise<void> {
  const dir = arg('model');
  if (!dir) throw new Error('--model DIR (a directory written by model.save()) is required');
  const threads = Number(arg('threads') ?? 1);
  const batching = !process.argv.includes('--no-batching');

  // model.save() directory -> nodetorch model -> ONNX file (timed: the export this service depends on)
  const model = await nt.loadModel(dir);
  const inputShape = model.layers[0].builtInputShape!;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-serve-onnx-'));
  const file = path.join(tmp, 'model.onnx');
  const t0 = performance.now();
  await model.export(file, { format: 'onnx' });
  const exportMs = performance.now() - t0;
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const spec = new InputSpec(inputShape);
  let per = 0;

  const runBatch = async (data: Float32Array, rows: number): Promise<Float32Array> => {
    const r = await session.run({ [inputName]: new ort.Tensor('float32', data, [rows, ...inputShape]) });
    return r[outputName].data as Float32Array;
  };
  const warm = await runBatch(new Float32Array(spec.size), 1);
  per = warm.length;
  const batcher = new Batcher(runBatch, { enabled: batching, maxBatchSize: 64, maxWaitMs: 0, maxInFlight: 1 });

  const app = Fastify({ bodyLimit: 8 << 20 });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const send = (reply: FastifyReply, code: number, message: string, expected?: string) =>
    reply.code(code).send({ error: STATUS_CODES[code], message, ...(expected ? { expected } : {}) });
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof RequestError) return send(reply, err.statusCode, err.message, err.expected);
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return send(reply, code, err.message, code < 500 ? spec.expected : undefined);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready', model: { name: model.name, inputShape, outputShape: [per] }, exportMs }));
  app.get('/metrics', async () => ({ status: 'ready', batcher: batcher.stats(), exportMs }));
  app.post('/predict', async (req: FastifyRequest) => {
    const binary = Buffer.isBuffer(req.body);
    const { data, rows } = binary ? fromBinary(req.body as Buffer, spec) : fromJson(req.body, spec);
    return { predictions: nest(await batcher.predict(data, rows), rows, per) };
  });
  const url = await app.listen({ host: '127.0.0.1', port: Number(arg('port') ?? 0) });
  console.log(`listening on ${url} (onnxruntime-node ${ort.env.versions.common}, export ${exportMs.toFixed(1)} ms, ${batching ? 'batching' : 'no batching'})`);
  const stop = () => {
    app.close().then(async () => {
      await batcher.drained();
      await session.release();
      fs.rmSync(tmp, { recursive: true, force: true });
      process.exit(0);
    }, () => process.exit(1));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.log(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }));
  process.exit(1);
});
