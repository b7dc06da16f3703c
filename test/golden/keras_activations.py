# Goldens for test/keras_parity_paths.test.ts: each Keras activation's values and gradients as
# libtorch computes them (float32), including at +-100 where naive formulas overflow.
# Run: /usr/bin/python3 test/golden/keras_activations.py > test/golden/keras_activations.json
import json
import torch
import torch.nn.functional as F

xs = [-100.0, -20.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 20.0, 100.0]
coef = [((i % 5) - 2) * 0.5 + 0.25 for i in range(len(xs))]  # a loss sum(coef * y) with varied signs
acts = {
    'relu': torch.relu,
    'sigmoid': torch.sigmoid,
    'tanh': torch.tanh,
    'softmax': lambda x: torch.softmax(x, -1),
    'gelu': F.gelu,
    'elu': F.elu,
    'selu': F.selu,
    'swish': F.silu,
    'silu': F.silu,
    'leaky_relu': lambda x: F.leaky_relu(x, 0.2),  # Keras 3's default negative_slope
    'softplus': F.softplus,
}
out = {'torch': torch.__version__, 'x': xs, 'coef': coef, 'activations': {}}
for name, f in acts.items():
    x = torch.tensor([xs], dtype=torch.float32, requires_grad=True)
    y = f(x)
    (y * torch.tensor([coef])).sum().backward()
    out['activations'][name] = {'y': y.detach()[0].tolist(), 'grad': x.grad[0].tolist()}
print(json.dumps(out))
