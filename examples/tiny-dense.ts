// The seed's smallest Keras program: Dense(5, relu) -> Dense(2, softmax) on three rows of dummy
// data, 10 epochs. Run with `npx tsx examples/tiny-dense.ts`.
import * as nt from '../lib';

const { Sequential, layers } = nt;

const x = nt.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]]);
const y = nt.tensor([0n, 1n, 0n]);

async function main(): Promise<void> {
  const model = new Sequential([
    new layers.Dense(5, { activation: 'relu', inputShape: [3] }),
    new layers.Dense(2, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  model.summary();
  await model.fit(x, y, { epochs: 10 });
  console.log((await model.predict(x)).toString());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
