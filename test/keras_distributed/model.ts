// The model and data test/keras_distributed.test.ts trains on 2 ranks (worker.ts) and in one process.
import * as nt from '../../lib';

const { Sequential, layers } = nt;

/** A user layer: a model holding one trains through the JS (autograd) path instead of the native loop. */
export class Identity extends layers.Layer {
  override call(x: nt.Tensor): nt.Tensor {
    return x;
  }
}

/** Seeded weights: rank 0 and the single-process reference seed 7; other ranks differ until fit broadcasts rank 0's. */
export function makeModel(path: 'native' | 'autograd', seed: number, optimizer: 'adam' | 'sgd' = 'adam'): nt.Sequential {
  nt.manualSeed(seed);
  const m = new Sequential([
    new layers.Dense(5, { activation: 'tanh', inputShape: [3] }),
    ...(path === 'autograd' ? [new Identity()] : []),
    new layers.Dense(3, { activation: 'softmax' }),
  ]);
  const opt = optimizer === 'adam' ? new nt.optimizers.Adam({ learningRate: 0.05 }) : new nt.optimizers.SGD({ learningRate: 0.5 });
  m.compile({ optimizer: opt, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

/** 16 training samples (2 ranks x 2 batches of 4) and 5 validation samples (split 3 + 2 across the ranks). */
export function data(): { x: nt.Tensor; y: nt.Tensor; xv: nt.Tensor; yv: nt.Tensor } {
  const row = (i: number) => [Math.sin(i), Math.cos(1.7 * i), ((i * 7) % 5) / 5 - 0.4];
  const x = nt.tensor(Array.from({ length: 16 }, (_, i) => row(i)));
  const y = nt.tensor(Array.from({ length: 16 }, (_, i) => (i * 5) % 3));
  const xv = nt.tensor(Array.from({ length: 5 }, (_, i) => row(i + 40)));
  const yv = nt.tensor(Array.from({ length: 5 }, (_, i) => i % 3));
  return { x, y, xv, yv };
}

/** 4 more training samples after data()'s 16: a fifth batch of 4, which a 2-rank fit from a dataset drops. */
export function dataTail(): { x: nt.Tensor; y: nt.Tensor } {
  const row = (i: number) => [Math.sin(i), Math.cos(1.7 * i), ((i * 7) % 5) / 5 - 0.4];
  return { x: nt.tensor(Array.from({ length: 4 }, (_, i) => row(i + 16))), y: nt.tensor(Array.from({ length: 4 }, (_, i) => ((i + 16) * 5) % 3)) };
}

export const PER_RANK_BATCH = 4;
export const EPOCHS = 3;

/** Every weight as plain numbers, layer by layer. */
export function weightsOf(m: nt.Sequential): number[][] {
  return m.getWeights().map((w) => Array.from(w.dataSync() as Float32Array));
}
