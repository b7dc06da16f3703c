// A Functional model with two inputs and two heads (Keras' functional API): a "ticket" with 8 text
// features and 4 metadata features predicts its priority class (3 classes) and a response time.
// Synthetic data; QUICK=1 trains less. Run with `npx tsx examples/functional-two-inputs.ts`.
import * as nt from '../lib';

const { layers } = nt;
const quick = !!process.env.QUICK;

function makeData(n: number): { text: nt.Tensor; meta: nt.Tensor; priority: nt.Tensor; time: nt.Tensor } {
  const text = nt.randn([n, 8]);
  const meta = nt.randn([n, 4]);
  const score = text.slice(1, 0, 4).sum(1).add(meta.slice(1, 0, 2).sum(1).mul(2));
  // priority 0/1/2 by thirds of the score; response time depends on both inputs
  const priority = score.gt(-1.5).to('int64').add(score.gt(1.5).to('int64'));
  const time = text.slice(1, 4, 8).sum(1).sub(meta.slice(1, 2, 4).sum(1)).reshape([n, 1]);
  return { text, meta, priority, time };
}

async function main(): Promise<void> {
  nt.manualSeed(0);
  const train = makeData(quick ? 1024 : 4096);
  const test = makeData(512);

  const text = nt.Input({ shape: [8], name: 'text' });
  const meta = nt.Input({ shape: [4], name: 'meta' });
  const features = new layers.Concatenate()([
    new layers.Dense(32, { activation: 'relu' })(text),
    new layers.Dense(16, { activation: 'relu' })(meta),
  ]);
  const h = new layers.Dense(32, { activation: 'relu' })(features);
  const priority = new layers.Dense(3, { activation: 'softmax', name: 'priority' })(h);
  const time = new layers.Dense(1, { name: 'time' })(h);
  const model = new nt.Model({ inputs: [text, meta], outputs: [priority, time], name: 'ticket_model' });
  model.summary();

  model.compile({
    optimizer: new nt.optimizers.Adam({ learningRate: 3e-3 }),
    loss: { priority: 'sparse_categorical_crossentropy', time: 'mse' },
    lossWeights: { priority: 1, time: 0.5 },
    metrics: { priority: ['accuracy'], time: ['mae'] },
  });
  const history = await model.fit({ text: train.text, meta: train.meta }, { priority: train.priority, time: train.time },
    { epochs: quick ? 8 : 20, batchSize: 64, validationSplit: 0.2, verbose: quick ? 0 : 2 });
  console.log(`History keys: ${Object.keys(history.history).join(', ')}`);

  const r = await model.evaluate([test.text, test.meta], [test.priority, test.time], { verbose: 0, returnDict: true }) as Record<string, number>;
  console.log(`Test priority accuracy: ${r.priority_accuracy.toFixed(4)}`);
  console.log(`Test time mae: ${r.time_mae.toFixed(4)}`);
  const [p, t] = await model.predict([test.text.slice(0, 0, 3), test.meta.slice(0, 0, 3)]) as nt.Tensor[];
  console.log(`First predictions: classes ${p.argmax(-1).toArray()} times ${(t.reshape([-1]).toArray() as number[]).map((v) => v.toFixed(2)).join(', ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
