# Goldens for nt.nn's loss modules (test/nn_loss.test.ts), from PyTorch on fixed inputs:
#   /usr/bin/python3 test/golden/losses.py > test/golden/losses.json
import json
import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)
x = torch.tensor([[0.2, -1.3, 0.8], [1.5, 0.1, -0.4], [-0.7, 0.9, 0.3], [0.05, -0.2, 1.1]])
y = torch.tensor([2, 0, 1, 1])
p = torch.tensor([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]])
a = torch.tensor([[0.5, 1.0, -2.0], [0.3, -0.1, 0.8], [1.2, 0.4, 0.0], [-0.6, 2.0, 0.7]])
b = torch.tensor([[0.4, 1.5, -1.0], [-0.3, 0.2, 0.9], [2.2, -0.4, 0.1], [0.6, 1.0, -0.7]])
n = torch.tensor([[1.4, 0.5, 0.0], [0.1, -0.5, 0.8], [0.9, 0.9, 0.2], [-0.3, 1.6, 1.0]])
s = torch.tensor([1.0, -1.0, -1.0, 1.0])
w = torch.tensor([1.0, 2.0, 0.5])
t01 = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
r1 = torch.tensor([0.5, -1.0, 2.0, 0.3])
r2 = torch.tensor([0.1, 0.2, 2.5, -0.3])

inputs = {'x': x, 'y': y, 'p': p, 'a': a, 'b': b, 'n': n, 's': s, 'w': w, 't01': t01, 'r1': r1, 'r2': r2}
cases = []


def case(name, module, args, **kw):
    for reduction in ['mean', 'sum', 'none']:
        m = module(reduction=reduction, **kw)
        out = m(*[inputs[k] for k in args])
        cases.append({'name': name, 'kwargs': {**kw_json(kw), 'reduction': reduction}, 'args': args, 'out': out.tolist()})


def kw_json(kw):
    return {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}


case('CrossEntropyLoss', nn.CrossEntropyLoss, ['x', 'y'])
case('CrossEntropyLoss', nn.CrossEntropyLoss, ['x', 'y'], weight=w, label_smoothing=0.1)
case('CrossEntropyLoss', nn.CrossEntropyLoss, ['x', 'p'])
case('NLLLoss', nn.NLLLoss, ['x', 'y'], weight=w)
case('MSELoss', nn.MSELoss, ['a', 'b'])
case('L1Loss', nn.L1Loss, ['a', 'b'])
case('SmoothL1Loss', nn.SmoothL1Loss, ['a', 'b'], beta=0.5)
case('HuberLoss', nn.HuberLoss, ['a', 'b'], delta=0.7)
case('BCELoss', nn.BCELoss, ['p', 't01'], weight=w)
case('BCEWithLogitsLoss', nn.BCEWithLogitsLoss, ['x', 't01'], pos_weight=w)
case('KLDivLoss', nn.KLDivLoss, ['x', 'p'])
case('KLDivLoss', nn.KLDivLoss, ['x', 'x'], log_target=True)
case('CosineEmbeddingLoss', nn.CosineEmbeddingLoss, ['a', 'b', 's'], margin=0.2)
case('MarginRankingLoss', nn.MarginRankingLoss, ['r1', 'r2', 's'], margin=0.1)
case('TripletMarginLoss', nn.TripletMarginLoss, ['a', 'b', 'n'])
case('TripletMarginLoss', nn.TripletMarginLoss, ['a', 'b', 'n'], margin=0.5, p=1.0, swap=True)
case('TripletMarginLoss', nn.TripletMarginLoss, ['a', 'b', 'n'], p=3.0)
batchmean = nn.KLDivLoss(reduction='batchmean')(x, p).item()

print(json.dumps({'torch': torch.__version__, 'inputs': {k: v.tolist() for k, v in inputs.items()},
                  'cases': cases, 'klBatchmean': batchmean}, separators=(",", ":")))
