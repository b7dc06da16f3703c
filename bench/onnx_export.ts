// ONNX export time (model.export(path, { format: 'onnx' })) of the seed models: the MLP, the CNN and
// the IMDB LSTM of the fit section, built with seeded weights. Median of timed loops (bench/common.ts);
// each iteration builds the ModelProto and writes the file atomically. One JSON line.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nt from '../lib';
import { emit, intFlag, timeLoop } from './common';

const { Sequential, layers } = nt;

const MODELS: Record<string, () => nt.Sequential> = {
  mlp: () => new Sequential([new layers.Flatten({ inputShape: [28, 28] }), new layers.Dense(128, { activation: 'relu' }), new layers.Dense(10, { activation: 'softmax' })]),
  cnn: () => new Sequential([new layers.Conv2D(32, 3, { inputShape: [28, 28, 1], activation: 'relu' }), new layers.MaxPooling2D(2), new layers.Flatten(),
    new layers.Dense(64, { activation: 'relu' }), new layers.Dense(10, { activation: 'softmax' })]),
  lstm: () => new Sequential([new layers.Embedding(10000, 128, { inputShape: [200] } as never), new layers.LSTM(128), new layers.Dense(1, { activation: 'sigmoid' })]),
};

async function main(): Promise<void> {
  nt.setNumThreads(intFlag('threads') ?? nt.getNumThreads());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetorch-bench-onnx-'));
  const cases: Record<string, object> = {};
  try {
    for (const [name, make] of Object.entries(MODELS)) {
      nt.manualSeed(0);
      const m = make();
      m.build();
      const file = path.join(dir, `${name}.onnx`);
      const t = await timeLoop(async (n) => {
        for (let i = 0; i < n; i++) await m.export(file, { format: 'onnx' });
      }, { targetMs: 300, reps: 5 });
      cases[name] = { us: t.us, samples: t.samples, params: m.countParams(), bytes: fs.statSync(file).size };
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  emit({ bench: 'onnx_export', threads: nt.getNumThreads(), loadAverage: os.loadavg(), variants: { export: cases } });
}

main().catch((e) => {
  emit({ bench: 'onnx_export', error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
});
