// Soak: the serve example under a mix of valid and malformed requests (`--minutes`, default 10),
// then a fit/save/load loop on one model directory (`--loop-minutes`, default 2), sampling the
// process's RSS every `--sample-seconds` (default 10). Reports RSS over time and the answers or
// errors by kind; a steady service ends near where it started. One JSON line.
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { createServer } from '../examples/serve/server';
import { emit, flag, intFlag } from './common';

const minutes = Number(flag('minutes') ?? 10);
const loopMinutes = Number(flag('loop-minutes') ?? 2);
const sampleMs = (intFlag('sample-seconds') ?? 10) * 1000;
const concurrency = intFlag('concurrency') ?? 16;
const threads = intFlag('threads');
if (threads) nt.setNumThreads(threads);

const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

interface Phase { name: string; seconds: number; rssMb: { t: number; rss: number }[]; counts: Record<string, number> }

/** The requests of the mix: valid JSON and binary, and the malformed kinds the issue tried. */
function requests(size: number): { kind: string; type: string; body: Buffer | string }[] {
  const one = Array.from({ length: size }, (_, i) => (i % 7) / 7);
  return [
    { kind: 'valid json', type: 'application/json', body: JSON.stringify({ inputs: [one] }) },
    { kind: 'valid binary', type: 'application/octet-stream', body: Buffer.from(new Float32Array(one).buffer) },
    { kind: 'wrong size', type: 'application/json', body: JSON.stringify({ inputs: [one.slice(1)] }) },
    { kind: 'not json', type: 'application/json', body: '{"inputs": [' },
    { kind: 'deep json', type: 'application/json', body: `{"inputs":${'['.repeat(50000)}${']'.repeat(50000)}}` },
    { kind: 'NaN strings', type: 'application/json', body: JSON.stringify({ inputs: [one.map(() => 'NaN')] }) },
    { kind: 'bad charset', type: 'application/json; charset=koi8-r', body: JSON.stringify({ inputs: [one] }) },
    { kind: 'odd binary', type: 'application/octet-stream', body: Buffer.alloc(size * 4 + 3) },
  ];
}

function post(port: number, r: { type: string; body: Buffer | string }): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/predict', method: 'POST', headers: { 'content-type': r.type } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
    req.end(r.body);
  });
}

async function servePhase(): Promise<Phase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-soak-'));
  nt.manualSeed(0);
  const m = new nt.Sequential([new nt.layers.Flatten({ inputShape: [28, 28] }), new nt.layers.Dense(128, { activation: 'relu' }),
    new nt.layers.Dense(10, { activation: 'softmax' })]);
  await m.save(path.join(dir, 'model'));
  const server = createServer({ model: path.join(dir, 'model') });
  const url = await server.listen();
  await server.ready;
  const port = Number(new URL(url).port);
  const mix = requests(28 * 28);
  const phase: Phase = { name: 'serve', seconds: 0, rssMb: [{ t: 0, rss: mb() }], counts: {} };
  const t0 = Date.now();
  const end = t0 + minutes * 60_000;
  let next = t0 + sampleMs;
  let i = 0;
  const worker = async () => {
    while (Date.now() < end) {
      const r = mix[i++ % mix.length];
      const code = await post(port, r);
      const key = `${r.kind}: ${code === -1 ? 'connection error' : code}`;
      phase.counts[key] = (phase.counts[key] ?? 0) + 1;
      if (Date.now() >= next) {
        phase.rssMb.push({ t: Math.round((Date.now() - t0) / 1000), rss: mb() });
        next += sampleMs;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  phase.seconds = Math.round((Date.now() - t0) / 1000);
  phase.rssMb.push({ t: phase.seconds, rss: mb() });
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return phase;
}

async function loopPhase(): Promise<Phase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-soak-loop-'));
  const phase: Phase = { name: 'fit/save/load', seconds: 0, rssMb: [{ t: 0, rss: mb() }], counts: {} };
  const x = nt.randn([512, 32]);
  const y = x.sum({ dim: 1, keepdim: true });
  const t0 = Date.now();
  const end = t0 + loopMinutes * 60_000;
  let next = t0 + sampleMs;
  const count = (k: string) => { phase.counts[k] = (phase.counts[k] ?? 0) + 1; };
  let m = new nt.Sequential([new nt.layers.Dense(64, { inputShape: [32], activation: 'relu' }), new nt.layers.Dense(1)]);
  m.compile({ optimizer: 'adam', loss: 'mse' });
  while (Date.now() < end) {
    try {
      await m.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0 });
      count('fit');
      await m.save(path.join(dir, 'model'));
      count('save');
      m = await nt.loadModel(path.join(dir, 'model'));
      count('load');
    } catch (e) {
      count(`error: ${(e as Error).message.slice(0, 80)}`);
    }
    if (Date.now() >= next) {
      global.gc?.();
      phase.rssMb.push({ t: Math.round((Date.now() - t0) / 1000), rss: mb() });
      next += sampleMs;
    }
  }
  phase.seconds = Math.round((Date.now() - t0) / 1000);
  phase.rssMb.push({ t: phase.seconds, rss: mb() });
  fs.rmSync(dir, { recursive: true, force: true });
  return phase;
}

void (async () => {
  const phases = [await servePhase(), await loopPhase()];
  emit({ bench: 'soak', loadavg: os.loadavg(), phases });
})();
