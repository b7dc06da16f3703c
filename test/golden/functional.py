# Goldens for F.ctcLoss, F.pad, F.interpolate, F.normalize (test/nn_functional.test.ts), from PyTorch on
# fixed inputs: /usr/bin/python3 test/golden/functional.py > test/golden/functional.json
# A case is F.<fn>(*args, **kwargs) with '$name' naming an input tensor; keyword names as PyTorch spells them.
import json
import math
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
g = torch.Generator().manual_seed(16)
inputs = {
    'x3': torch.randn(2, 3, 5, generator=g),
    'x4': torch.randn(1, 2, 3, 4, generator=g),
    'x5': torch.randn(1, 2, 2, 3, 2, generator=g),
    'v': torch.randn(3, 4, generator=g),
    'lp': torch.randn(6, 2, 4, generator=g).log_softmax(2),
    'lp1': torch.randn(5, 3, generator=g).log_softmax(1),
    'tg': torch.tensor([[1, 2, 2], [3, 1, 0]]),
    'tgcat': torch.tensor([1, 2, 2, 3, 1]),
    'tgb': torch.tensor([[0, 1, 1], [2, 0, 0]]),
    'tg1': torch.tensor([1, 2]),
    'il': torch.tensor([6, 5]),
    'tl': torch.tensor([3, 2]),
}
cases = []


def arg(a):
    return inputs[a[1:]] if isinstance(a, str) and a.startswith('$') else (math.inf if a == 'inf' else a)


def case(fn, *args, **kwargs):
    out = getattr(F, fn)(*[arg(a) for a in args], **{k: arg(v) for k, v in kwargs.items()})
    cases.append({'fn': fn, 'args': list(args), 'kwargs': kwargs, 'out': finite(out.tolist())})


def finite(v):
    # JSON has no Infinity: non-finite numbers travel as strings
    if isinstance(v, list):
        return [finite(x) for x in v]
    return v if math.isfinite(v) else str(v)


for reduction in ['mean', 'sum', 'none']:
    case('ctc_loss', '$lp', '$tg', [6, 5], [3, 2], reduction=reduction)
case('ctc_loss', '$lp', '$tgcat', [6, 5], [3, 2])
case('ctc_loss', '$lp', '$tg', '$il', '$tl', 0, 'sum')
case('ctc_loss', '$lp', '$tgb', [6, 6], [3, 1], blank=3, reduction='none')
# a target longer than its input cannot be aligned: inf, or 0 with zero_infinity
case('ctc_loss', '$lp', '$tg', [2, 5], [3, 2], reduction='none')
case('ctc_loss', '$lp', '$tg', [2, 5], [3, 2], reduction='none', zero_infinity=True)
case('ctc_loss', '$lp1', '$tg1', [5], [2], reduction='sum')

case('pad', '$x4', [1, 2])
case('pad', '$x4', [1, 1, 2, 0], value=2.5)
case('pad', '$x4', [-1, 1, 0, 1, 1, 0])
case('pad', '$x3', [2, 1], 'reflect')
case('pad', '$x4', [1, 3, 2, 2], mode='reflect')
case('pad', '$x3', [2, 3], 'replicate')
case('pad', '$x4', [2, 0, 1, 2], mode='replicate')
case('pad', '$x5', [1, 1, 2, 0, 1, 1], mode='replicate')
case('pad', '$x4', [1, 2, 2, 1], mode='circular')
case('pad', '$x3', [4, 2], 'circular')

case('interpolate', '$x4', [5, 7])
case('interpolate', '$x4', scale_factor=2)
case('interpolate', '$x4', scale_factor=1.7)
case('interpolate', '$x4', None, [0.6, 1.5], 'nearest')
case('interpolate', '$x4', size=[5, 6], mode='bilinear')
case('interpolate', '$x4', size=[5, 6], mode='bilinear', align_corners=True)
case('interpolate', '$x4', scale_factor=1.5, mode='bicubic')
case('interpolate', '$x4', scale_factor=1.5, mode='bicubic', align_corners=True)
case('interpolate', '$x4', scale_factor=1.7, mode='bilinear', recompute_scale_factor=True)
case('interpolate', '$x4', size=[2, 2], mode='bilinear', antialias=True)
case('interpolate', '$x4', size=[2, 3], mode='area')
case('interpolate', '$x4', scale_factor=0.5, mode='area')
case('interpolate', '$x4', size=[5, 7], mode='nearest-exact')
case('interpolate', '$x3', 8, mode='linear')
case('interpolate', '$x3', 8, None, 'linear', True)
case('interpolate', '$x3', scale_factor=0.6, mode='nearest')
case('interpolate', '$x5', scale_factor=[2, 1.5, 1], mode='trilinear')
case('interpolate', '$x5', size=3, mode='trilinear', align_corners=True)
case('interpolate', '$x5', size=[3, 2, 4])

case('normalize', '$v')
case('normalize', '$v', 1, 0)
case('normalize', '$v', p='inf', dim=-1)
case('normalize', '$x4', dim=2)
case('normalize', '$v', 2, 1, 10.0)

# gradient of a mean CTC loss with respect to the logits under log_softmax
logits = torch.randn(4, 1, 3, generator=g, requires_grad=True)
F.ctc_loss(logits.log_softmax(2), torch.tensor([[1, 2]]), [4], [2]).backward()
print(json.dumps({'torch': torch.__version__, 'inputs': {k: {'dtype': str(v.dtype).replace('torch.', ''), 'data': v.tolist()}
                                                         for k, v in inputs.items()},
                  'cases': cases, 'ctcGrad': {'logits': logits.tolist(), 'grad': logits.grad.tolist()}}))
