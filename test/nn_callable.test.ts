// Modules are callable as in PyTorch: net(x) runs forward through the forward hooks; printing a
// module shows PyTorch's printout. Expected numbers from PyTorch 1.13 (Debian's python3-torch).
import { inspect } from 'util';
import * as nt from '../lib';
import { expectTensor } from './helpers';

const { nn, F } = nt;

class SimpleNet extends nn.Module {
  fc1 = new nn.Linear(3, 5);
  fc2 = new nn.Linear(5, 2);
  forward(x: nt.Tensor): nt.Tensor {
    return this.fc2(F.relu(this.fc1(x)));
  }
}

test('net(x) runs forward: the SimpleNet output under manualSeed(0) matches PyTorch', () => {
  nt.manualSeed(0);
  const net = new SimpleNet();
  expect(typeof net).toBe('function');
  expect(net instanceof nn.Module).toBe(true);
  expect(net.parameters()).toHaveLength(4);
  // torch.manual_seed(0); net = SimpleNet(); net(torch.tensor([0.1, 0.2, 0.3]))
  expectTensor(net(nt.tensor([0.1, 0.2, 0.3])), [-0.1434, 0.2876], 1e-4);
  expectTensor(net(nt.tensor([0.1, 0.2, 0.3])), net.forward(nt.tensor([0.1, 0.2, 0.3])).toArray(), 0);
});

test('console.log(net) prints the PyTorch module printout', () => {
  const net = new SimpleNet();
  const want = 'SimpleNet(\n  (fc1): Linear(in_features=3, out_features=5, bias=True)\n' +
    '  (fc2): Linear(in_features=5, out_features=2, bias=True)\n)';
  expect(inspect(net)).toBe(want);
  expect(String(net)).toBe(want);
  expect(inspect(new nn.Sequential(new nn.Linear(2, 2), new nn.ReLU()))).toBe(
    'Sequential(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n  (1): ReLU()\n)');
});

test('forward hooks and pre-hooks run on module(...) and can replace arguments and outputs', () => {
  const lin = new nn.Linear(2, 1);
  nt.noGrad(() => { lin.weight.fill_(1); lin.bias!.fill_(0); });
  const seen: string[] = [];
  const pre = lin.registerForwardPreHook((m, args) => { seen.push(`pre ${m.constructor.name}`); return [(args[0] as nt.Tensor).mul(2)]; });
  const post = lin.registerForwardHook((_m, _args, out) => { seen.push('post'); return (out as nt.Tensor).add(1); });
  expectTensor(lin(nt.tensor([1, 2])), [7]);                 // (1 + 2) * 2 + 1
  expect(seen).toEqual(['pre Linear', 'post']);
  expectTensor(lin.forward(nt.tensor([1, 2])), [3]);         // forward() itself runs no hooks, as in PyTorch
  pre.remove();
  post.remove();
  expectTensor(lin(nt.tensor([1, 2])), [3]);
  expect(() => lin.registerForwardHook(42 as never)).toThrow('Linear.registerForwardHook: expected a function but received number');
});

test('Sequential calls its modules, so hooks on a child run inside the chain', () => {
  const seq = new nn.Sequential(new nn.Linear(2, 2), new nn.ReLU());
  let n = 0;
  seq.at(1).registerForwardHook(() => { n++; });
  seq(nt.ones([3, 2]));
  expect(n).toBe(1);
});

test('modules as values: registered as fields, refused where a state dict is expected, moved with to()', () => {
  class Outer extends nn.Module {
    inner = new SimpleNet();
    head = new nn.Linear(2, 1);
    forward(x: nt.Tensor): nt.Tensor { return this.head(this.inner(x)); }
  }
  const o = new Outer();
  expect(o.namedModules().map(([k]) => k)).toEqual(['', 'inner', 'inner.fc1', 'inner.fc2', 'head']);
  expect(() => o.loadStateDict(new SimpleNet() as never)).toThrow('expected an object or Map of tensors');
  o.to({ dtype: 'float64' });
  expect(o(nt.ones([1, 3], { dtype: 'float64' })).dtype).toBe('float64');
  expect(new nn.Sequential({ a: new nn.Linear(1, 1) } as never).namedChildren().map(([k]) => k)).toEqual(['a']);
});
