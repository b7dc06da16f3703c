// Errors a user porting Python code meets (issue 16, list 7): each names the user's call and
// suggests the fix where one is obvious.
import * as nt from '../lib';

const { layers, F } = nt;

test("zeros with Python's varargs shape says to pass the shape as one array", () => {
  expect(() => (nt.zeros as (...a: unknown[]) => unknown)([2], -1, 'cuda', false))
    .toThrow('zeros: expected an options object { dtype, device, requiresGrad } after the shape but received number -1 ' +
      '(give the shape as one array: zeros([2, 3]))');
});

test('crossEntropy with float class indices suggests target.long()', () => {
  expect(() => F.crossEntropy(nt.randn([4, 2]), nt.tensor([0, 1, 0, 1]))).toThrow(/reads as class indices.*convert with target.long\(\)/);
});

test('categorical_crossentropy with integer labels names the loss and suggests the sparse one', async () => {
  const model = new nt.Sequential([new layers.Dense(2, { inputShape: [2], activation: 'softmax' })]);
  model.compile({ optimizer: 'adam', loss: 'categorical_crossentropy' });
  await expect(model.fit(nt.ones([4, 2]), nt.tensor([0n, 1n, 0n, 1n]), { verbose: 0 })).rejects.toThrow(
    "fit: categorical_crossentropy expects one-hot targets of the output's shape [N, 2] but y holds class labels " +
    "(shape [4], int64); compile with loss 'sparse_categorical_crossentropy' for integer labels, or one-hot encode y");
});

test('a layer called before build builds itself from the input, as Keras\' __call__ does', () => {
  const dense = new layers.Dense(4, { name: 'd' });
  expect(dense.built).toBe(false);
  expect(dense.call(nt.ones([2, 3])).shape).toEqual([2, 4]);
  expect(dense.built).toBe(true);
  expect(dense.getWeights().map((w) => w.shape)).toEqual([[3, 4], [4]]);
  // a later input of another width is an Error in the user's terms, not libtorch's matmul message
  expect(() => dense.call(nt.ones([2, 5]))).toThrow('d (Dense): the layer was built for inputs of shape (None, 3) (last dimension 3) but received inputs of shape (None, 5)');
});
