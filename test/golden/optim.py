# Golden values for test/optim.test.ts from PyTorch itself (Debian's python3-torch 1.13):
#   /usr/bin/python3 test/golden/optim.py   (writes test/golden/optim.json)
# Parameters, targets and the loss come from formulas, so nothing depends on a random seed.
import json
import math
import os

import torch

torch.set_default_dtype(torch.float32)
SHAPES = [[2, 3], [4]]
STEPS = 5


def make_params():
    out = []
    for k, shape in enumerate(SHAPES):
        n = math.prod(shape)
        vals = [0.5 * math.sin(0.37 * i + k) for i in range(n)]
        out.append(torch.tensor(vals).reshape(shape).requires_grad_(True))
    return out


def loss_of(params):
    total = 0
    for k, p in enumerate(params):
        n = p.numel()
        target = torch.tensor([0.3 * math.cos(0.11 * i + k) for i in range(n)]).reshape(p.shape)
        c = torch.tensor([1 + 0.1 * (i % 3) for i in range(n)]).reshape(p.shape)
        total = total + ((p - target) ** 2 * c).sum() + (p ** 3).sum() * 0.1
    return total


def snake(k):
    return ''.join('_' + c.lower() if c.isupper() else c for c in k)


def py_options(o):
    return {snake(k): (tuple(v) if k == 'betas' else v) for k, v in o.items()}


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


OPTIMIZERS = [
    ('SGD', {'lr': 0.1}, None),
    ('SGD', {'lr': 0.1, 'momentum': 0.9}, None),
    ('SGD', {'lr': 0.1, 'momentum': 0.9, 'nesterov': True}, None),
    ('SGD', {'lr': 0.1, 'weightDecay': 0.1}, None),
    ('SGD', {'lr': 0.1, 'momentum': 0.9, 'dampening': 0.5, 'weightDecay': 0.01}, None),
    ('SGD', {'lr': 0.1, 'momentum': 0.5}, [{'params': [0], 'lr': 0.2}, {'params': [1], 'momentum': 0.9}]),
    ('Adam', {'lr': 0.1}, None),
    ('Adam', {'lr': 0.1, 'amsgrad': True}, None),
    ('Adam', {'lr': 0.1, 'weightDecay': 0.1}, None),
    ('Adam', {'lr': 0.05, 'betas': [0.8, 0.99], 'eps': 1e-6}, None),
    ('Adam', {}, [{'params': [0], 'lr': 0.1}, {'params': [1], 'lr': 0.01, 'amsgrad': True}]),
    ('AdamW', {'lr': 0.1}, None),
    ('AdamW', {'lr': 0.1, 'weightDecay': 0.1, 'amsgrad': True}, None),
    ('RMSprop', {'lr': 0.01}, None),
    ('RMSprop', {'lr': 0.01, 'centered': True}, None),
    ('RMSprop', {'lr': 0.01, 'momentum': 0.9}, None),
    ('RMSprop', {'lr': 0.01, 'alpha': 0.9, 'centered': True, 'momentum': 0.5, 'weightDecay': 0.1}, None),
    ('Adagrad', {'lr': 0.1}, None),
    ('Adagrad', {'lr': 0.1, 'lrDecay': 0.1, 'weightDecay': 0.05, 'initialAccumulatorValue': 0.1}, None),
]


def run_optimizer(kind, options, groups):
    params = make_params()
    cls = getattr(torch.optim, kind)
    if groups is None:
        opt = cls(params, **py_options(options))
    else:
        pg = [dict(py_options({k: v for k, v in g.items() if k != 'params'}), params=[params[i] for i in g['params']])
              for g in groups]
        opt = cls(pg, **py_options(options))
    steps = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(params).backward()
        opt.step()
        steps.append([flat(p) for p in params])
    sd = opt.state_dict()
    state = {}
    for idx, s in sd['state'].items():
        e = {}
        for k, v in s.items():
            if v is None:
                continue
            if k == 'step':
                e[k] = float(v)
            else:
                e[k] = flat(v)
        if e:  # SGD without momentum keeps momentum_buffer None: no state
            state[str(idx)] = e
    return {'kind': kind, 'options': options, 'groups': groups, 'steps': steps, 'state': state}


SCHED_STEPS = 12
PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.7]

SCHEDULERS = [
    ('StepLR', 'SGD', {'stepSize': 3, 'gamma': 0.5}),
    ('ExponentialLR', 'SGD', {'gamma': 0.9}),
    ('CosineAnnealingLR', 'SGD', {'TMax': 5, 'etaMin': 0.001}),
    ('ReduceLROnPlateau', 'SGD', {'factor': 0.5, 'patience': 2, 'threshold': 0.01, 'cooldown': 1, 'minLr': 0.005}),
    ('ReduceLROnPlateau', 'SGD', {'mode': 'max', 'thresholdMode': 'abs', 'factor': 0.3, 'patience': 1, 'threshold': 0.02}),
    ('OneCycleLR', 'SGD', {'maxLr': [1.0, 0.1], 'totalSteps': SCHED_STEPS}),
    ('OneCycleLR', 'Adam', {'maxLr': 0.5, 'epochs': 3, 'stepsPerEpoch': 4, 'annealStrategy': 'linear', 'threePhase': True}),
]


def py_sched_options(name, o):
    out = {}
    for k, v in o.items():
        if k == 'TMax':
            out['T_max'] = v
        elif k == 'minLr':
            out['min_lr'] = v
        else:
            out[snake(k)] = v
    return out


def momentum_of(opt):
    return [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]


def run_scheduler(name, kind, options):
    params = make_params()
    groups = [{'params': [params[0]], 'lr': 0.1}, {'params': [params[1]], 'lr': 0.01}]
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9) if kind == 'SGD' else torch.optim.Adam(groups)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **py_sched_options(name, options))
    lrs = [[g['lr'] for g in opt.param_groups]]
    momenta = [momentum_of(opt)]
    n = SCHED_STEPS - 1 if name == 'OneCycleLR' else SCHED_STEPS
    for i in range(n):
        opt.step()
        if name == 'ReduceLROnPlateau':
            sched.step(PLATEAU_METRICS[i])
        else:
            sched.step()
        lrs.append([g['lr'] for g in opt.param_groups])
        momenta.append(momentum_of(opt))
    return {'name': name, 'kind': kind, 'options': options, 'lrs': lrs, 'momenta': momenta}


def clip_case():
    params = make_params()
    loss_of(params).backward()
    total = torch.nn.utils.clip_grad_norm_(params, 1.0)
    params2 = make_params()
    loss_of(params2).backward()
    total_inf = torch.nn.utils.clip_grad_norm_(params2, 0.5, norm_type=float('inf'))
    return {'total': float(total), 'grads': [flat(p.grad) for p in params],
            'totalInf': float(total_inf), 'gradsInf': [flat(p.grad) for p in params2]}


out = {
    'torch': torch.__version__,
    'shapes': SHAPES,
    'optimizers': [run_optimizer(*c) for c in OPTIMIZERS],
    'schedulers': [run_scheduler(*c) for c in SCHEDULERS],
    'plateauMetrics': PLATEAU_METRICS,
    'clip': clip_case(),
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'optim.json')
with open(path, 'w') as f:
    json.dump(out, f, indent=1)
    f.write('\n')
print('wrote', path)
