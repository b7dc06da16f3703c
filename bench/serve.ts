// Load benchmark of an inference service for the seed MLP (Flatten [28, 28] -> Dense 128 relu ->
// Dense 10 softmax): examples/serve with dynamic batching (`--server nodetorch`), without it
// (`nodetorch-nobatch`), or the same weights in PyTorch behind FastAPI + uvicorn (`fastapi`,
// bench/serve_fastapi.py). The server runs in its own child process; autocannon, in this process,
// POSTs the same JSON body (one MNIST test image, {"inputs": [[784 numbers]]}) over loopback at
// each concurrency (`--concurrency 1,16,64`) for `--duration` seconds after a `--warmup`. One JSON line.
import { ChildProcess, spawn } from 'child_process';
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { createSeedModel } from '../examples/serve/seed';
import type { ServerStats } from '../examples/serve/server';
import { emit, flag, freePort, intFlag } from './common';

interface CannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (opts: Record<string, unknown>, done: (err: Error | null, result: CannonResult) => void) => EventEmitter;
// autocannon ships no type declarations
const autocannon = require('autocannon') as Autocannon;

// onnxruntime / onnxruntime-nobatch (issue 17): the model exported to ONNX behind the same routes (bench/serve_onnx.ts)
const SERVERS = ['nodetorch', 'nodetorch-nobatch', 'fastapi', 'onnxruntime', 'onnxruntime-nobatch'] as const;
type ServerName = (typeof SERVERS)[number];

// Compiled by scripts/bench.js to bench/.out/bench/serve.js (the example server beside it), or run by tsx.
const compiled = __filename.endsWith('.js');
const root = compiled ? path.resolve(__dirname, '..', '..', '..') : path.resolve(__dirname, '..');
const PYTHON = process.env.BENCH_PYTHON || '/usr/bin/python3';

interface Child {
  proc: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts the server and resolves once GET /readyz answers 200; rejects with the child's last words if it exits first. */
async function startServer(which: ServerName, modelDir: string, threads: number, extra: string[]): Promise<Child> {
  let cmd: string;
  let args: string[];
  let url = '';
  if (which === 'fastapi') {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    cmd = PYTHON;
    args = [path.join(root, 'bench', 'serve_fastapi.py'), '--model', modelDir, '--port', String(port), '--threads', String(threads), ...extra];
  } else if (which.startsWith('onnxruntime')) {
    const entry = compiled ? [path.join(__dirname, 'serve_onnx.js')] : ['--import', 'tsx', path.join(root, 'bench', 'serve_onnx.ts')];
    cmd = process.execPath;
    args = [...entry, '--model', modelDir, '--port', '0', '--threads', String(threads), ...(which === 'onnxruntime-nobatch' ? ['--no-batching'] : []), ...extra];
  } else {
    const entry = compiled ? [path.join(__dirname, '..', 'examples', 'serve', 'server.js')] : ['--import', 'tsx', path.join(root, 'examples', 'serve', 'server.ts')];
    cmd = process.execPath;
    args = [...entry, '--model', modelDir, '--port', '0', '--threads', String(threads), ...(which === 'nodetorch-nobatch' ? ['--no-batching'] : []), ...extra];
  }
  const proc = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m && !url) url = m[1];
  });
  proc.stderr!.on('data', (d) => { out += d; });
  let exited: string | null = null;
  proc.once('exit', (code, signal) => { exited = `exited with ${code ?? signal}`; });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited) {
      const lines = out.trim().split('\n');
      const json = lines.reverse().find((l) => l.startsWith('{"error"'));
      throw new Error(json ? (JSON.parse(json) as { error: string }).error : `${which} server ${exited}: ${lines[0] ?? 'no output'}`);
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${which} server was not ready after 120 s: ${out.trim().split('\n').pop()}`);
    }
    if (url) {
      try {
        if ((await fetch(`${url}/readyz`)).status === 200) break;
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, url, output: () => out };
}

async function stopServer(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const done = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
}

/** user + system CPU seconds of a process so far (Linux), or null. */
function cpuSeconds(pid: number | undefined): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
  } catch {
    return null;
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
}

/** autocannon at `connections` for `seconds`; latency percentiles from every 2xx response's own time (autocannon's histogram keeps whole ms). */
function load(url: string, body: string, connections: number, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    const inst = autocannon({
      url: `${url}/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body,
      connections, pipelining: 1, duration: seconds, timeout: 30,
    }, (err, r) => {
      if (err) return reject(err);
      times.sort((a, b) => a - b);
      resolve({ rps: r['2xx'] / r.duration, p50: percentile(times, 50), p99: percentile(times, 99), requests: r['2xx'], errors: r.errors + r.timeouts, non2xx: r.non2xx });
    });
    inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) times.push(ms);
    });
  });
}

async function main(): Promise<void> {
  const which = (flag('server') ?? 'nodetorch') as ServerName;
  if (!SERVERS.includes(which)) throw new TypeError(`--server: expected one of ${SERVERS.join(', ')} but got '${which}'`);
  const threads = intFlag('threads') ?? os.cpus().length;
  const seconds = intFlag('duration') ?? 5;
  const warmup = intFlag('warmup') ?? 1;
  const levels = (flag('concurrency') ?? '1,16,64').split(',').map(Number);
  if (!levels.every((c) => Number.isSafeInteger(c) && c > 0)) throw new TypeError('--concurrency: expected positive integers, e.g. 1,16,64');
  const extra = (flag('server-args') ?? '').split(' ').filter(Boolean);

  // The same weights for every server: the seed MLP (seeded, untrained) saved once per run.
  let modelDir = flag('model');
  let tmp: string | undefined;
  if (!modelDir) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-bench-serve-'));
    modelDir = path.join(tmp, 'seed-mlp');
    await createSeedModel(modelDir);
  }
  // One MNIST test image as pixel / 255, as a Python or browser client would send it.
  const [, [xTest]] = await nt.datasets.mnist.loadData();
  const pixels = Array.from(xTest.slice(0, 0, 1).dataSync() as Uint8Array, (v) => v / 255);
  const body = JSON.stringify({ inputs: [pixels] });
  const reference = (await (await nt.loadModel(modelDir)).predict(nt.tensor(new Float32Array(pixels), { shape: [1, 28, 28] }))).dataSync() as Float32Array;

  let child: Child | null = null;
  try {
    child = await startServer(which, modelDir, threads, extra);
    // Same answers from every server (the weights crossed over correctly).
    const check = await fetch(`${child.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (check.status !== 200) throw new Error(`${which}: POST /predict answered ${check.status}: ${await check.text()}`);
    const got = ((await check.json()) as { predictions: number[][] }).predictions[0];
    const maxAbsDiff = Math.max(...got.map((v, i) => Math.abs(v - reference[i])));
    if (!(maxAbsDiff < 1e-4)) throw new Error(`${which}: predictions differ from nodetorch's model.predict by ${maxAbsDiff}`);

    const cases: Record<string, object> = {};
    for (const c of levels) {
      await load(child.url, body, c, warmup);
      const before = which === 'fastapi' ? null : ((await (await fetch(`${child.url}/metrics`)).json()) as ServerStats).batcher;
      const cpu0 = cpuSeconds(child.proc.pid);
      const r = await load(child.url, body, c, seconds);
      const cpu1 = cpuSeconds(child.proc.pid);
      const after = which === 'fastapi' ? null : ((await (await fetch(`${child.url}/metrics`)).json()) as ServerStats).batcher;
      cases[`c${c}`] = {
        us: 1e6 / r.rps, ...r,
        serverCpu: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / seconds : null,
        meanBatch: before && after ? (after.instances - before.instances) / Math.max(1, after.forwardPasses - before.forwardPasses) : null,
      };
    }
    emit({
      bench: 'serve', server: which, threads, seconds, warmup, concurrency: levels, bodyBytes: Buffer.byteLength(body), maxAbsDiff,
      loadAverage: os.loadavg(), variants: { [which]: cases },
    });
  } finally {
    if (child) await stopServer(child);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  emit({ bench: 'serve', error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
