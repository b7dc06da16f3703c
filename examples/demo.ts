// `npm start` until the Keras-style API lands: tensors, broadcasting and autograd fitting a
// line y = 3x + 2 by gradient descent, then a look at what nodetorch is running on.
import * as nt from '../lib';

console.log(`nodetorch ${nt.version.nodetorch} on libtorch ${nt.version.libtorch}, ` +
  `${nt.getNumThreads()} threads, CUDA ${nt.cuda.isAvailable() ? 'available' : 'not available'}`);

const a = nt.tensor([[1, 2], [3, 4]]);
console.log('a =', a.toString());
console.log('a @ a =', a.matmul(a).toString());
console.log('a + [10, 20] =', a.add(nt.tensor([10, 20])).toString());

nt.manualSeed(0);
const x = nt.linspace(-1, 1, 256).unsqueeze(1);
const y = x.mul(3).add(2).add(nt.randn([256, 1]).mul(0.05));
const w = nt.zeros([1, 1], { requiresGrad: true });
const b = nt.zeros([1], { requiresGrad: true });

const steps = 200;
for (let step = 1; step <= steps; step++) {
  const loss = nt.tidy(() => {
    const pred = x.matmul(w).add(b);
    const l = pred.sub(y).square().mean();
    w.zeroGrad_();
    b.zeroGrad_();
    l.backward();
    nt.noGrad(() => {
      nt.tidy(() => {
        w.sub_(w.grad!.mul(0.1));
        b.sub_(b.grad!.mul(0.1));
      });
    });
    return l.item() as number;
  });
  if (step % 40 === 0 || step === 1) {
    const done = Math.round((step / steps) * 30);
    console.log(`step ${String(step).padStart(3)} [${'='.repeat(done)}${'.'.repeat(30 - done)}] loss: ${loss.toFixed(5)}`);
  }
}
console.log(`learned w = ${(w.item() as number).toFixed(3)}, b = ${(b.item() as number).toFixed(3)} (true: 3, 2)`);
console.log('live tensors:', nt.memory());
