// nn's loss modules against PyTorch: test/golden/losses.json is written by test/golden/losses.py
// (Debian's python3-torch 1.13, float64). Each module runs the one F function of its loss.
import * as fs from 'fs';
import * as path from 'path';
import * as nt from '../lib';
import { expectTensor } from './helpers';

const { nn, F } = nt;

interface Case { name: string; kwargs: Record<string, unknown>; args: string[]; out: number | number[] }
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'losses.json'), 'utf8')) as {
  torch: string; inputs: Record<string, unknown>; cases: Case[]; klBatchmean: number;
};
const input = (k: string): nt.Tensor => (k === 'y' ? nt.tensor(golden.inputs.y as number[], { dtype: 'int64' })
  : nt.tensor(golden.inputs[k] as number[], { dtype: 'float64' }));

type LossCtor = new (options?: Record<string, unknown>) => nt.nn.Module & ((...a: nt.Tensor[]) => nt.Tensor);

test.each(golden.cases.map((c) => [`${c.name}(${JSON.stringify(c.kwargs)})`, c] as const))(
  '%s matches PyTorch (python3-torch, keyword names as PyTorch spells them)', (_label, c) => {
    // PyTorch's snake_case keyword names (pos_weight, label_smoothing, log_target) are read as the camelCase options
    const kwargs = Object.fromEntries(Object.entries(c.kwargs).map(([k, v]) =>
      [k, Array.isArray(v) ? nt.tensor(v as number[], { dtype: 'float64' }) : v]));
    const loss = new (nn as unknown as Record<string, LossCtor>)[c.name](kwargs);
    const out = loss(...c.args.map(input));
    expectTensor(out, c.out, 1e-10);
  });

test('KLDivLoss batchmean divides the sum by the batch size', () => {
  expect(new nn.KLDivLoss({ reduction: 'batchmean' })(input('x'), input('p')).item()).toBeCloseTo(golden.klBatchmean, 12);
});

test('loss modules take PyTorch positional arguments and print as PyTorch does', () => {
  const w = nt.tensor([1, 2, 0.5], { dtype: 'float64' });
  const byPosition = new nn.CrossEntropyLoss(w, { labelSmoothing: 0.1 });
  const byName = new nn.CrossEntropyLoss({ weight: w, label_smoothing: 0.1 } as never);   // types document camelCase only
  expect(byPosition(input('x'), input('y')).item()).toBe(byName(input('x'), input('y')).item());
  expect(String(byPosition)).toBe('CrossEntropyLoss()');
  expect(Object.keys(byPosition.stateDict())).toEqual(['weight']);
  expect(new nn.HuberLoss('sum', 0.7)(input('a'), input('b')).item())
    .toBe(F.huberLoss(input('a'), input('b'), { reduction: 'sum', delta: 0.7 }).item());
  expect(new nn.TripletMarginLoss(0.5, 1, 1e-6, true)(input('a'), input('b'), input('n')).item())
    .toBe(new nn.TripletMarginLoss({ margin: 0.5, p: 1, swap: true })(input('a'), input('b'), input('n')).item());
  expect(new nn.MarginRankingLoss(0.1).margin).toBe(0.1);
  expect(Object.keys(new nn.BCEWithLogitsLoss(null, { posWeight: w }).stateDict())).toEqual(['pos_weight']);
});

test('loss modules refuse wrong options and arguments with the valid names', () => {
  expect(() => new nn.CrossEntropyLoss({ smoothing: 0.1 } as never))
    .toThrow("CrossEntropyLoss: unknown option 'smoothing'; known options: weight, ignoreIndex, reduction, labelSmoothing");
  expect(() => new nn.MSELoss({ reduction: 'avg' as never })).toThrow("MSELoss: expected one of 'none', 'mean', 'sum' for reduction but received string 'avg'");
  expect(() => new nn.CrossEntropyLoss(nt.ones([3]), { weight: nt.ones([3]) } as never)).toThrow("got multiple values for argument 'weight'");
  expect(() => new nn.MarginRankingLoss(0.1, 0.2 as never)).toThrow('takes at most 1 positional argument (margin) but 2 were given');
  expect(() => new nn.CosineEmbeddingLoss()(input('a'), input('b'), nt.ones([3]))).toThrow('expected target of shape [4] (1 or -1 per sample) but got [3]');
});

test('crossEntropy with float class indices says so and suggests target.long()', () => {
  expect(() => F.crossEntropy(nt.randn([4, 2]), nt.tensor([0, 1, 0, 1])))
    .toThrow('a float32 target of shape [4] reads as class indices; floating-point targets must be class probabilities of ' +
      "input's shape [4, 2]); convert with target.long()");
  expect(() => new nn.CrossEntropyLoss()(nt.randn([4, 2]), nt.tensor([0, 1, 0, 1]))).toThrow(/convert with target.long\(\)/);
});

test('the losses composed in TypeScript have PyTorch gradients (finite differences)', () => {
  const a = input('a').requiresGrad_();
  const b = input('b');
  const n = input('n');
  const f = (): nt.Tensor => F.tripletMarginLoss(a, b, n, { margin: 2 }).add(F.cosineEmbeddingLoss(a, b, input('s')));
  f().backward();
  const g = a.grad!.toArray() as number[][];
  const h = 1e-6;
  for (const [i, j] of [[0, 0], [1, 2], [3, 1]]) {
    const plus = nt.noGrad(() => { a.index(i, j).add_(h); const v = f().item() as number; a.index(i, j).sub_(2 * h); const m = f().item() as number; a.index(i, j).add_(h); return (v - m) / (2 * h); });
    expect(g[i][j]).toBeCloseTo(plus, 6);
  }
});
