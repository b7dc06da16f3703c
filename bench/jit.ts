// TorchScript forward latency in nodetorch: the traced small CNN that bench/jit.py exports (and
// times with torch.jit.load), at batch 1 and 64, awaiting each forward ("sequential") and with 4
// forwards in flight on the module ("4 in flight", a server answering several requests).
// Prints one JSON line for scripts/bench.js; `--threads N` sets libtorch's intra-op threads.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { packageRoot } from '../lib/native';
import { CaseResult, emit, intFlag, measure } from './common';

const BATCHES = [1, 64]; // BATCHES in bench/jit.py
const IN_FLIGHT = 4;
const WARMUP = 5; // WARMUP in bench/jit.py
const PYTHON = process.env.BENCH_PYTHON || '/usr/bin/python3';

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads !== undefined) nt.setNumThreads(threads);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-bench-jit-'));
  const file = path.join(tmp, 'cnn.pt');
  try {
    const r = spawnSync(PYTHON, [path.join(packageRoot, 'bench', 'jit.py'), '--export', file], { encoding: 'utf8' });
    if (r.status !== 0) {
      emit({ error: `exporting the TorchScript CNN with ${PYTHON} bench/jit.py failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}` });
      return;
    }
    const model = (await nt.jit.load(file)).eval();
    nt.manualSeed(0);
    const checksum = Number((await model.forward(nt.ones([2, 1, 28, 28])) as nt.Tensor).sum().item());
    const variants: Record<string, Record<string, CaseResult>> = { 'sequential': {}, '4 in flight': {} };
    for (const b of BATCHES) {
      const x = nt.randn([b, 1, 28, 28]);
      // TorchScript's profiling executor specializes on the first calls with a new shape: keep those out
      for (let i = 0; i < WARMUP; i++) (await model.forward(x) as nt.Tensor).dispose();
      variants.sequential[`b${b}`] = await measure(async (n) => {
        for (let i = 0; i < n; i++) (await model.forward(x) as nt.Tensor).dispose();
      });
      // n forwards with IN_FLIGHT of them queued at any time: us per forward is the throughput's inverse
      variants['4 in flight'][`b${b}`] = await measure(async (n) => {
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < n) {
            next++;
            (await model.forward(x) as nt.Tensor).dispose();
          }
        };
        await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, worker));
      });
    }
    emit({ bench: 'jit', impl: 'nodetorch', threads: nt.getNumThreads(), checksum, variants });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  emit({ error: e instanceof Error ? e.message : String(e) });
  process.exitCode = 1;
});
