// A subclassed Keras model (Keras' Model subclassing): layers assigned as fields are tracked,
// call(x, { training }) defines the forward, model(x) runs it eagerly, and a custom trainStep with
// optimizer.apply shows Keras 3's customisation point. Synthetic two-moons-like data; QUICK=1 trains less.
// Run with `npx tsx examples/subclassed-model.ts`.
import * as nt from '../lib';

const { layers } = nt;
const quick = !!process.env.QUICK;

/** A small residual MLP classifier. */
class ResidualMLP extends nt.Model {
  inp = new layers.Dense(32, { activation: 'relu' });
  block = new layers.Dense(32, { activation: 'relu' });
  add = new layers.Add();
  dropout = new layers.Dropout(0.1);
  out = new layers.Dense(2);

  override call(x: nt.Tensor, opts?: { training?: boolean }): nt.Tensor {
    const h = this.inp(x);
    const r = this.add([h, this.block(h)]);
    return this.out(this.dropout(r, { training: opts?.training ?? false }));
  }
}

/** The same model with Keras 3's custom train step: gradients by autograd, applied with optimizer.apply. */
class CustomStepMLP extends ResidualMLP {
  stepCount = 0;
  override trainStep(data: unknown[]): Record<string, number> {
    const [x, y] = data as [nt.Tensor, nt.Tensor];
    const vars = this.trainableWeights;
    for (const v of vars) v.grad?.zero_();
    const loss = this.computeLoss(x, y, this.call(x, { training: true }));
    loss.backward();
    this.optimizer!.apply(vars.map((v) => v.grad!), vars);
    this.stepCount++;
    return { loss: loss.item() as number };
  }
}

function moons(n: number): { x: nt.Tensor; y: nt.Tensor } {
  const t = nt.rand([n]).mul(Math.PI);
  const y = nt.rand([n]).gt(0.5).to('int64');
  const sign = y.to('float32').mul(2).sub(1);
  const x0 = t.cos().mul(sign.neg()).add(y.to('float32'));
  const x1 = t.sin().mul(sign.neg()).add(y.to('float32').mul(0.5));
  return { x: nt.stack([x0, x1], 1).add(nt.randn([n, 2]).mul(0.1)), y };
}

async function main(): Promise<void> {
  nt.manualSeed(0);
  const train = moons(quick ? 1000 : 4000);
  const test = moons(500);
  const net = new ResidualMLP();
  console.log(`Eager call: ${net(test.x.slice(0, 0, 2)).shape.join('x')} logits`);
  net.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 1e-2 }),
    loss: { name: 'sparse_categorical_crossentropy', fromLogits: true }, metrics: ['accuracy'] });
  await net.fit(train.x, train.y, { epochs: quick ? 10 : 30, batchSize: 64, verbose: quick ? 0 : 2 });
  net.summary();
  const [, acc] = await net.evaluate(test.x, test.y, { verbose: 0 }) as number[];
  console.log(`Test accuracy: ${acc.toFixed(4)}`);

  const custom = new CustomStepMLP();
  custom.compile({ optimizer: new nt.optimizers.Adam({ learningRate: 1e-2 }), loss: { name: 'sparse_categorical_crossentropy', fromLogits: true } });
  const h = await custom.fit(train.x, train.y, { epochs: quick ? 5 : 15, batchSize: 64, verbose: 0 });
  const preds = (await custom.predict(test.x) as nt.Tensor).argmax(-1);
  const customAcc = Number(preds.eq(test.y).to('float32').mean().item());
  console.log(`Custom trainStep: ${custom.stepCount} steps, loss ${h.history.loss[0].toFixed(4)} -> ${h.history.loss[h.history.loss.length - 1].toFixed(4)}, test accuracy ${customAcc.toFixed(4)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
