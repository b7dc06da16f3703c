// examples/serve: the HTTP inference service, started in-process on 127.0.0.1 with an ephemeral port
// and a tiny model saved to a temporary directory; answers are compared with model.predict.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { createServer, InferenceServer, ServerOptions } from '../examples/serve/server';

const { Sequential, layers } = nt;
const SHAPE = [4, 4];
const SIZE = 16;
const CLASSES = 3;

let dir: string;
let reference: nt.Sequential;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-serve-test-'));
  nt.manualSeed(1);
  // Dropout is there to check that serving runs the model in inference mode.
  const model = new Sequential([
    new layers.Flatten({ inputShape: SHAPE }),
    new layers.Dense(8, { activation: 'relu' }),
    new layers.Dropout(0.5),
    new layers.Dense(CLASSES, { activation: 'softmax' }),
  ]);
  await model.save(path.join(dir, 'tiny'));
  reference = await nt.loadModel(path.join(dir, 'tiny'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const servers: InferenceServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(opts: Partial<ServerOptions> = {}): Promise<{ server: InferenceServer; url: string }> {
  const server = createServer({ model: path.join(dir, 'tiny'), ...opts });
  servers.push(server);
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  await server.ready;
  return { server, url };
}

/** n instances of SIZE values, different for every seed. */
function instances(n: number, seed: number): Float32Array {
  const out = new Float32Array(n * SIZE);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(seed * 97.13 + i * 1.7) * 2;
  return out;
}

async function expected(data: Float32Array, rows: number): Promise<number[][]> {
  const y = await reference.predict(nt.tensor(data, { shape: [rows, ...SHAPE] }));
  return y.toArray() as number[][];
}

function expectClose(got: number[][], want: number[][]): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, i) => {
    expect(row.length).toBe(want[i].length);
    row.forEach((v, k) => expect(Math.abs(v - want[i][k])).toBeLessThanOrEqual(1e-6));
  });
}

function rowsOf(data: Float32Array): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < data.length; i += SIZE) out.push(Array.from(data.subarray(i, i + SIZE)));
  return out;
}

/** The fields the service's JSON answers have (each answer has some of them). */
interface Answer {
  predictions: number[][];
  status: string;
  message: string;
  expected: string;
  model: unknown;
}
function answer(r: Response): Promise<Answer> {
  return r.json() as Promise<Answer>;
}

function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function postBinary(url: string, data: Float32Array | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/predict`, {
    method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers },
    body: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

test('readyz answers 503 until the model is loaded and warmed up, then 200; healthz is always 200', async () => {
  let resolve!: (m: nt.Sequential) => void;
  const loading = new Promise<nt.Sequential>((r) => { resolve = r; });
  const server = createServer({ model: loading });
  servers.push(server);
  const url = await server.listen({ port: 0 });
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  const before = await fetch(`${url}/readyz`);
  expect(before.status).toBe(503);
  expect(await answer(before)).toMatchObject({ status: 'loading' });
  const early = await postJson(url, { inputs: rowsOf(instances(1, 1)) });
  expect(early.status).toBe(503);
  expect((await answer(early)).message).toMatch(/still loading/);

  resolve(await nt.loadModel(path.join(dir, 'tiny')));
  await server.ready;
  const after = await fetch(`${url}/readyz`);
  expect(after.status).toBe(200);
  expect(await answer(after)).toEqual({ status: 'ready', model: { name: reference.name, inputShape: SHAPE, outputShape: [CLASSES] } });
});

test('readyz reports a model that failed to load, and the server keeps answering', async () => {
  const server = createServer({ model: path.join(dir, 'no-such-model') });
  servers.push(server);
  const url = await server.listen({ port: 0 });
  await expect(server.ready).rejects.toThrow(/no such directory/);
  const r = await fetch(`${url}/readyz`);
  expect(r.status).toBe(503);
  expect(await answer(r)).toMatchObject({ status: 'failed', message: expect.stringMatching(/no such directory/) });
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
});

test('JSON predictions equal model.predict on the same inputs: a batch, one flat instance, one nested instance', async () => {
  const { url } = await start();
  const x = instances(3, 2);
  const r = await postJson(url, { inputs: rowsOf(x) });
  expect(r.status).toBe(200);
  expectClose((await answer(r)).predictions, await expected(x, 3));

  const one = instances(1, 3);
  const flat = await answer(await postJson(url, { inputs: Array.from(one) }));
  expectClose(flat.predictions, await expected(one, 1));
  const nested = [0, 1, 2, 3].map((i) => Array.from(one.subarray(i * 4, i * 4 + 4)));
  const n = await answer(await postJson(url, { inputs: nested }));
  expectClose(n.predictions, await expected(one, 1));
  const batchNested = await answer(await postJson(url, { inputs: [nested, nested] }));
  expectClose(batchNested.predictions, await expected(new Float32Array([...one, ...one]), 2));
});

test('binary requests: raw float32 back (x-output-shape says the shape), or JSON when Accept asks for it', async () => {
  const { url } = await start();
  const x = instances(5, 4);
  const want = await expected(x, 5);
  const r = await postBinary(url, x);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/octet-stream');
  expect(r.headers.get('x-output-shape')).toBe(`5,${CLASSES}`);
  const out = new Float32Array(await r.arrayBuffer());
  expect(out.length).toBe(5 * CLASSES);
  expectClose([0, 1, 2, 3, 4].map((i) => Array.from(out.subarray(i * CLASSES, (i + 1) * CLASSES))), want);

  const j = await postBinary(url, x, { accept: 'application/json' });
  expect(j.headers.get('content-type')).toMatch(/^application\/json/);
  expectClose((await answer(j)).predictions, want);
});

test('concurrent requests share forward passes, and each gets the outputs of its own inputs', async () => {
  const { server, url } = await start({ maxBatchSize: 64, maxWaitMs: 200 });
  const before = server.stats().batcher.forwardPasses;
  const inputs = Array.from({ length: 32 }, (_, i) => instances(1 + (i % 3), 10 + i));
  const answers = await Promise.all(inputs.map(async (x, i) => {
    // half JSON, half binary
    if (i % 2) return new Float32Array(await (await postBinary(url, x)).arrayBuffer());
    return (await answer(await postJson(url, { inputs: rowsOf(x) }))).predictions as number[][];
  }));
  for (let i = 0; i < inputs.length; i++) {
    const want = await expected(inputs[i], inputs[i].length / SIZE);
    const a = answers[i];
    const got = a instanceof Float32Array ? want.map((_, r) => Array.from(a.subarray(r * CLASSES, (r + 1) * CLASSES))) : a;
    expectClose(got, want);
  }
  const s = server.stats().batcher;
  const passes = s.forwardPasses - before;
  expect(passes).toBeLessThan(32);
  expect(s.requests).toBe(32);
  expect(s.instances).toBe(inputs.reduce((n, x) => n + x.length / SIZE, 0));
  expect(Math.max(...Object.keys(s.requestsPerPass).map(Number))).toBeGreaterThan(1);
  expect(Math.max(...Object.keys(s.batchSizes).map(Number))).toBeLessThanOrEqual(64);
});

test('a batch never exceeds maxBatchSize instances (a larger request runs alone)', async () => {
  const { server, url } = await start({ maxBatchSize: 4, maxWaitMs: 200 });
  const inputs = Array.from({ length: 12 }, (_, i) => instances(i === 0 ? 6 : 1, 50 + i));
  const answers = await Promise.all(inputs.map(async (x) => (await answer(await postJson(url, { inputs: rowsOf(x) }))).predictions));
  for (let i = 0; i < inputs.length; i++) expectClose(answers[i], await expected(inputs[i], inputs[i].length / SIZE));
  const sizes = Object.keys(server.stats().batcher.batchSizes).map(Number);
  expect(sizes.filter((n) => n > 4)).toEqual([6]);
});

test('with batching disabled every request is its own forward pass', async () => {
  const { server, url } = await start({ batching: false });
  const inputs = Array.from({ length: 32 }, (_, i) => instances(1, 100 + i));
  const answers = await Promise.all(inputs.map(async (x) => (await answer(await postJson(url, { inputs: rowsOf(x) }))).predictions));
  for (let i = 0; i < inputs.length; i++) expectClose(answers[i], await expected(inputs[i], 1));
  const s = server.stats().batcher;
  expect(s.enabled).toBe(false);
  expect(s.forwardPasses).toBe(32);
  expect(s.requestsPerPass).toEqual({ 1: 32 });
});

test('bad requests get a 4xx naming what was wrong and what was expected, and the server keeps answering', async () => {
  const bodyLimit = 4096;
  const { server, url } = await start({ bodyLimit });
  const ok = instances(1, 7);
  const nan = instances(1, 8);
  nan[5] = NaN;
  const inf = instances(1, 9);
  inf[0] = Infinity;
  const withValue = (v: unknown) => ({ inputs: [[...Array.from(ok).slice(0, 3), v, ...Array.from(ok).slice(4)]] });
  const raw = (body: string | Uint8Array, type?: string) =>
    fetch(`${url}/predict`, { method: 'POST', headers: type ? { 'content-type': type } : {}, body });
  const cases: [string, () => Promise<Response>, number, RegExp][] = [
    ['wrong shape (JSON)', () => postJson(url, { inputs: [[1, 2, 3]] }), 400, /inputs\[0\] is an array of 3; expected an instance of 16 numbers/],
    ['wrong shape in a batch', () => postJson(url, { inputs: [Array.from(ok), [1, 2]] }), 400, /inputs\[1\] is an array of 2; expected an array of 16/],
    ['wrong nested shape', () => postJson(url, { inputs: [[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3]]] }), 400,
      /inputs\[0\]\[3\] is an array of 3; expected an array of 4/],
    ['too deep', () => postJson(url, { inputs: [[[[1]]]] }), 400, /nested 4 levels deep/],
    ['wrong shape (binary)', () => postBinary(url, new Uint8Array(10)), 400, /10 bytes, not a multiple of 64/],
    ['inputs not an array', () => postJson(url, { inputs: 'abc' }), 400, /"inputs" is the string "abc", not an array/],
    ['no inputs field', () => postJson(url, { instances: [] }), 400, /no "inputs" field \(it has "instances"\)/],
    ['body not an object', () => postJson(url, [1, 2]), 400, /the body is an array of 2, not an object/],
    ['empty inputs', () => postJson(url, { inputs: [] }), 400, /"inputs" is empty/],
    ['a string value', () => postJson(url, withValue('x')), 400, /inputs\[0\]\[3\] is the string "x"; only numbers are accepted/],
    ['a null value', () => postJson(url, withValue(null)), 400, /inputs\[0\]\[3\] is null; only numbers/],
    ['a boolean value', () => postJson(url, withValue(true)), 400, /inputs\[0\]\[3\] is boolean true; only numbers/],
    ['NaN (not JSON)', () => raw(`{"inputs": [[${Array.from(ok).slice(0, 15).join(',')}, NaN]]}`, 'application/json'), 400, /not valid JSON/],
    ['beyond float32', () => postJson(url, withValue(1e39)), 400, /inputs\[0\]\[3\] is 1e\+39, outside float32's finite range/],
    ['NaN (binary)', () => postBinary(url, nan), 400, /instance 0 has NaN at value 5; only finite numbers/],
    ['infinity (binary)', () => postBinary(url, inf), 400, /instance 0 has Infinity at value 0/],
    ['invalid JSON', () => raw('{"inputs": [1, 2', 'application/json'), 400, /not valid JSON/],
    ['bad content type', () => raw('1 2 3', 'text/plain'), 415, /Content-Type "text\/plain" is not accepted/],
    ['empty JSON body', () => raw('', 'application/json'), 400, /the request body is empty/],
    ['empty binary body', () => raw(new Uint8Array(0), 'application/octet-stream'), 400, /the request body is empty/],
    ['no body at all', () => fetch(`${url}/predict`, { method: 'POST' }), 400, /the request body is empty/],
    ['oversized binary body', () => postBinary(url, instances(80, 1)), 413, new RegExp(`larger than the server's limit of ${bodyLimit} bytes`)],
    ['oversized JSON body', () => postJson(url, { inputs: rowsOf(instances(80, 1)) }), 413, /larger than the server's limit/],
    ['unknown route', () => fetch(`${url}/predict/v2`, { method: 'POST' }), 404, /no route POST \/predict\/v2/],
  ];
  for (const [name, send, status, message] of cases) {
    const r = await send();
    const body = await answer(r);
    expect({ name, status: r.status }).toEqual({ name, status });
    expect({ name, message: body.message }).toEqual({ name, message: expect.stringMatching(message) });
    expect({ name, expected: typeof body.expected }).toEqual({ name, expected: 'string' });
    // still answering
    const good = await postJson(url, { inputs: rowsOf(ok) });
    expect({ name, status: good.status }).toEqual({ name, status: 200 });
  }
  const s = server.stats();
  expect(s.responses['500']).toBeUndefined();
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
});

test('the forward pass runs off the event loop: healthz answers and timers fire while a big batch runs', async () => {
  // wide enough that one pass over the batch takes a while (hundreds of ms on 2 cores)
  nt.manualSeed(2);
  const wide = new Sequential([
    new layers.Flatten({ inputShape: [16, 16] }),
    new layers.Dense(2048, { activation: 'relu' }),
    new layers.Dense(2048, { activation: 'relu' }),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  wide.build();
  const server = createServer({ model: wide, bodyLimit: 64 << 20 });
  servers.push(server);
  const url = await server.listen({ port: 0 });
  await server.ready;
  const rows = 2000;
  const x = new Float32Array(rows * 256).map((_, i) => Math.cos(i));

  // Each 1 ms tick notes whether a pass is running and the gap since the previous tick.
  let ticksDuringPass = 0;
  let maxGap = 0;
  let passStart = 0;
  let passEnd = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const running = server.stats().batcher.inFlight > 0;
    if (running) {
      if (!passStart) passStart = now;
      ticksDuringPass++;
      maxGap = Math.max(maxGap, now - last);
    } else if (passStart && !passEnd) passEnd = now;
    last = now;
  }, 1);
  const big = postBinary(url, x).then(async (r) => ({ status: r.status, bytes: (await r.arrayBuffer()).byteLength }));
  let healthyDuringPass = 0;
  let done = false;
  void big.then(() => { done = true; });
  while (!done) {
    const r = await fetch(`${url}/healthz`);
    if (r.status === 200 && server.stats().batcher.inFlight > 0) healthyDuringPass++;
    await new Promise((res) => setTimeout(res, 5));
  }
  clearInterval(timer);
  expect(await big).toEqual({ status: 200, bytes: rows * 10 * 4 });
  expect(healthyDuringPass).toBeGreaterThan(0);
  expect(ticksDuringPass).toBeGreaterThan(1);
  // Were the pass on the event loop, no tick could run during it and the gap would span the whole pass.
  expect(maxGap).toBeLessThan((passEnd || performance.now()) - passStart);
});

test('close() lets a request in progress finish, then the server stops', async () => {
  const { server, url } = await start({ maxWaitMs: 100 });
  const x = instances(2, 42);
  const pending = postJson(url, { inputs: rowsOf(x) });
  while (server.stats().batcher.queued === 0) await new Promise((r) => setImmediate(r));
  const closed = server.close();
  const r = await pending;
  expect(r.status).toBe(200);
  expectClose((await answer(r)).predictions, await expected(x, 2));
  await closed;
  expect(server.stats().status).toBe('closing');
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();
});

describe('Functional and subclassed models', () => {
  /** Two inputs (a [2, 3] grid and 2 numbers), two heads: the outputs by name. */
  function twoHeads(): nt.Model {
    const a = nt.Input({ shape: [2, 3], name: 'grid' });
    const b = nt.Input({ shape: [2], name: 'extra' });
    const h = new layers.Concatenate()([new layers.Flatten()(a) as nt.KerasTensor, b]);
    const cls = new layers.Dense(3, { activation: 'softmax', name: 'cls' })(h);
    const reg = new layers.Dense(1, { name: 'reg' })(h);
    return new nt.Model({ inputs: [a, b], outputs: [cls, reg], name: 'two_heads' });
  }
  const grid = [[[1, 2, 3], [4, 5, 6]], [[-1, 0, 1], [0.5, 0.25, 2]]];
  const extra = [[0.1, 0.2], [3, -3]];

  test('a Functional model with two inputs (by name or as an array) and two outputs (by name)', async () => {
    nt.manualSeed(3);
    const model = twoHeads();
    const server = createServer({ model });
    servers.push(server);
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    await server.ready;
    const [cls, reg] = await model.predict([nt.tensor(grid), nt.tensor(extra)]) as nt.Tensor[];
    const ready = await answer(await fetch(`${url}/readyz`));
    expect(ready.model).toEqual({ name: 'two_heads', inputShape: [2, 3], outputShape: [3],
      inputs: [{ name: 'grid', shape: [2, 3] }, { name: 'extra', shape: [2] }], outputs: [{ name: 'cls', shape: [3] }, { name: 'reg', shape: [1] }] });
    for (const inputs of [{ extra, grid }, [grid, extra]]) {
      const r = await postJson(url, { inputs });
      expect(r.status).toBe(200);
      const p = (await r.json()) as { predictions: Record<string, number[][]> };
      expectClose(p.predictions.cls, cls.toArray() as number[][]);
      expectClose(p.predictions.reg, reg.toArray() as number[][]);
    }
    // one instance per input, flat
    const one = (await (await postJson(url, { inputs: { grid: grid[1].flat(), extra: extra[1] } })).json()) as { predictions: Record<string, number[][]> };
    expectClose(one.predictions.reg, [(reg.toArray() as number[][])[1]]);
    // binary: each instance's inputs one after another; outputs likewise, named in a header
    const bin = new Float32Array([...grid[0].flat(), ...extra[0], ...grid[1].flat(), ...extra[1]]);
    const rb = await postBinary(url, bin);
    expect(rb.headers.get('x-output-shapes')).toBe('cls:3,reg:1');
    const out = Array.from(new Float32Array(await rb.arrayBuffer()));
    expectClose([out.slice(0, 4), out.slice(4, 8)], [0, 1].map((i) => [...(cls.toArray() as number[][])[i], ...(reg.toArray() as number[][])[i]]));
    // refusals name the input
    const bad = async (inputs: unknown, msg: RegExp) => {
      const r = await postJson(url, { inputs });
      expect(r.status).toBe(400);
      expect((await answer(r)).message).toMatch(msg);
    };
    await bad({ grid }, /"inputs" lacks "extra"/);
    await bad({ grid, extra, more: [1] }, /has unknown "more"/);
    await bad([grid], /"inputs" is an array of 1; the model has 2 inputs \(grid, extra\)/);
    await bad({ grid, extra: [[1, 2, 3], [4, 5, 6]] }, /input 'extra': /);
    await bad({ grid, extra: [extra[0]] }, /input 'extra' has 1 instances but 'grid' has 2/);
  });

  test('a subclassed model built for its input shape, and one that is not built is refused', async () => {
    class Net extends nt.Model {
      d1 = new layers.Dense(4, { activation: 'relu' });
      d2 = new layers.Dense(2);
      override call(x: nt.Tensor): nt.Tensor {
        return this.d2.call(this.d1.call(x)).add(x.sum(1, true));
      }
    }
    nt.manualSeed(4);
    const net = new Net();
    net.build([3]);
    const server = createServer({ model: net });
    servers.push(server);
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    await server.ready;
    const x = [[1, 2, 3], [0, -1, 0.5]];
    const r = await answer(await postJson(url, { inputs: x }));
    expectClose(r.predictions, (await net.predict(nt.tensor(x)) as nt.Tensor).toArray() as number[][]);
    const unbuilt = createServer({ model: new Net() });
    servers.push(unbuilt);
    await expect(unbuilt.ready).rejects.toThrow(/\(subclassed\) is not built; call model.build\(inputShape\)/);
  });
});
