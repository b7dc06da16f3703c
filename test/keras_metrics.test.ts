// Keras' confusion-matrix metrics (precision, recall, auc): values accumulated over batches and
// epochs, not averaged per batch, in the native loop and the JS loop, with fused sigmoid/softmax.
import * as nt from '../lib';

const { Sequential, layers } = nt;

/** A user layer (so the model trains and evaluates through the JS loop): identity. */
class Identity extends layers.Layer {
  call(x: nt.Tensor): nt.Tensor {
    return x;
  }
}

// Six scored samples: positives at 0.4, 0.8, 0.3; negatives at 0.1, 0.35, 0.2. Eight of the nine
// (positive, negative) pairs are ordered right, so the ROC area is 8/9; at the 0.5 threshold only
// 0.8 is called positive: precision 1/1, recall 1/3.
const SCORES = [0.1, 0.4, 0.35, 0.8, 0.3, 0.2];
const LABELS = [0, 1, 0, 1, 1, 0];

/** Dense(1) with kernel 1 and bias 0 (then optionally sigmoid): the model outputs its input. */
function passThrough(activation: 'linear' | 'sigmoid', custom: boolean): nt.Sequential {
  const m = new Sequential([
    new layers.Dense(1, { inputShape: [1], activation }),
    ...(custom ? [new Identity()] : []),
  ]);
  m.setWeights([nt.ones([1, 1]), nt.zeros([1])]);
  return m;
}

const logit = (p: number): number => Math.log(p / (1 - p));

describe('precision, recall and auc', () => {
  for (const custom of [false, true]) {
    const loop = custom ? 'the JS loop' : 'the native loop';
    test(`accumulate over batches in ${loop}`, async () => {
      const m = passThrough('linear', custom);
      m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['precision', 'recall', 'auc'] });
      const x = nt.tensor(SCORES, { shape: [6, 1] });
      const y = nt.tensor(LABELS, { shape: [6, 1] });
      // batch 2: no batch alone has these values; a mean of per-batch values would differ
      const r = (await m.evaluate(x, y, { batchSize: 2, verbose: 0, returnDict: true })) as Record<string, number>;
      expect(Object.keys(r)).toEqual(['loss', 'precision', 'recall', 'auc']);
      expect(r.precision).toBeCloseTo(1, 10);
      expect(r.recall).toBeCloseTo(1 / 3, 10);
      expect(r.auc).toBeCloseTo(8 / 9, 10);
    });

    test(`with sigmoid + binary_crossentropy fused into logits in ${loop}`, async () => {
      const m = passThrough('sigmoid', custom);
      m.compile({ optimizer: 'sgd', loss: 'binary_crossentropy', metrics: ['Precision', 'Recall', 'AUC', 'accuracy'] });
      const x = nt.tensor(SCORES.map(logit), { shape: [6, 1] });
      const y = nt.tensor(LABELS, { shape: [6, 1] });
      const r = (await m.evaluate(x, y, { batchSize: 4, verbose: 0, returnDict: true })) as Record<string, number>;
      expect(r.precision).toBeCloseTo(1, 10);
      expect(r.recall).toBeCloseTo(1 / 3, 10);
      expect(r.auc).toBeCloseTo(8 / 9, 10);
      expect(r.accuracy).toBeCloseTo(4 / 6, 10); // 0.4 and 0.3 are positives below 0.5
    });
  }

  test('integer labels against softmax outputs count every class output (one-hot)', async () => {
    const m = new Sequential([new layers.Dense(3, { inputShape: [3], activation: 'softmax', useBias: false })]);
    m.setWeights([nt.eye(3).mul(10)]);
    m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy', metrics: ['precision', 'recall'] });
    // rows pick class 0, 1, 2, 2 (softmax of 10*x is ~one-hot); labels 0, 1, 1, 2
    const x = nt.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]]);
    const y = nt.tensor([0, 1, 1, 2], { dtype: 'int64' });
    const [, precision, recall] = (await m.evaluate(x, y, { verbose: 0 })) as number[];
    // 4 predicted positives, 3 right; 4 actual positives, 3 found
    expect(precision).toBeCloseTo(3 / 4, 6);
    expect(recall).toBeCloseTo(3 / 4, 6);
  });

  test('fit logs them per epoch and for validation', async () => {
    nt.manualSeed(3);
    const x = nt.randn([256, 4]);
    const y = x.select(1, 0).add(x.select(1, 1)).gt(0).to('float32').reshape([256, 1]);
    const m = new Sequential([new layers.Dense(8, { inputShape: [4], activation: 'relu' }), new layers.Dense(1, { activation: 'sigmoid' })]);
    m.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 0.02 }), loss: 'binary_crossentropy', metrics: ['auc', 'precision', 'recall'] });
    const h = await m.fit(x, y, { epochs: 8, batchSize: 16, verbose: 0, validationSplit: 0.25 });
    for (const k of ['auc', 'precision', 'recall', 'val_auc', 'val_precision', 'val_recall']) {
      expect(h.history[k]).toHaveLength(8);
      for (const v of h.history[k]) expect(v).toBeGreaterThanOrEqual(0);
      for (const v of h.history[k]) expect(v).toBeLessThanOrEqual(1);
    }
    // a linearly separable task: the ranking becomes good quickly
    expect(h.history.val_auc[7]).toBeGreaterThan(0.9);
    // the logged validation AUC is the AUC of the model's predictions on the validation rows
    const xv = x.slice(0, 192, 256);
    const yv = y.slice(0, 192, 256);
    const r = (await m.evaluate(xv, yv, { verbose: 0, returnDict: true })) as Record<string, number>;
    expect(r.auc).toBeCloseTo(h.history.val_auc[7], 10);
    const p = Array.from((await m.predict(xv)).dataSync() as Float32Array);
    const t = Array.from(yv.dataSync() as Float32Array);
    let ordered = 0;
    let pairs = 0;
    p.forEach((pi, i) => p.forEach((pj, j) => {
      if (t[i] === 1 && t[j] === 0) {
        pairs++;
        ordered += pi > pj ? 1 : pi === pj ? 0.5 : 0;
      }
    }));
    // 200 thresholds: the bucketed area is within a bucket's worth of the exact one
    expect(r.auc).toBeCloseTo(ordered / pairs, 1);
  });

  test('targets of the wrong size are refused', async () => {
    const m = new Sequential([new layers.Dense(2, { inputShape: [1] })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['auc'] });
    await expect(m.evaluate(nt.ones([3, 1]), nt.ones([3, 3]), { verbose: 0 })).rejects.toThrow(/needs a target of the output's shape Tensor\[3, 2\].*target is Tensor\[3, 3\]/);
    expect(() => m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['f1'] })).toThrow(/unknown metric 'f1'.*precision, recall or auc/);
  });
});
