# Writes test/golden/modules.json: PyTorch's numbers for the models, optimizers and losses that
# test/parity.test.ts rebuilds in nodetorch. Run with Debian's torch: /usr/bin/python3 test/golden/modules.py
#
# Every number is seed-independent, so both sides compute the same values from a formula:
#   parameter k (0-based, in named_parameters() order), flat (row-major) element i:
#       0.5 * sin(0.37 * i + 1.3 * k + 0.1) / sqrt(fan),  fan = numel / shape[0] (1 for a 1-D parameter)
#   input tensor, flat element i:        cos(0.23 * i + 0.5)
#   second float input (a target), i:    sin(0.31 * i + 0.7)      (squashed to (0, 1) where a probability is needed)
#   class targets:                       i % C
# Buffers keep their PyTorch defaults (running_mean 0, running_var 1). Float32 unless stated.
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)


def formula_param(k, shape):
    n = math.prod(shape)
    fan = n / shape[0] if len(shape) > 1 else 1
    vals = [0.5 * math.sin(0.37 * i + 1.3 * k + 0.1) / math.sqrt(fan) for i in range(n)]
    return torch.tensor(vals, dtype=torch.float64).reshape(shape)


def formula_input(shape, dtype=torch.float32):
    n = math.prod(shape)
    return torch.tensor([math.cos(0.23 * i + 0.5) for i in range(n)], dtype=torch.float64).reshape(shape).to(dtype)


def formula_target(shape, dtype=torch.float32):
    n = math.prod(shape)
    return torch.tensor([math.sin(0.31 * i + 0.7) for i in range(n)], dtype=torch.float64).reshape(shape).to(dtype)


def classes(n, c):
    return torch.tensor([i % c for i in range(n)], dtype=torch.int64)


def init_params(model):
    with torch.no_grad():
        for k, (_, p) in enumerate(model.named_parameters()):
            p.copy_(formula_param(k, list(p.shape)))
    return model


def t(x):
    """A tensor as { shape, data } with data flat, row-major; 9 significant digits round-trip a float32."""
    x = x.detach().to(torch.float64).contiguous()
    return {"shape": list(x.shape), "data": [float(f"{v:.9g}") for v in x.reshape(-1).tolist()]}


def grads(model):
    return {name: t(p.grad) for name, p in model.named_parameters()}


def describe(model):
    return {
        "paramNames": [n for n, _ in model.named_parameters()],
        "stateDictKeys": list(model.state_dict().keys()),
    }


# ---- (a) MLP ----

def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def case_mlp():
    m = init_params(mlp())
    x = formula_input([6, 4])
    y = classes(6, 3)
    out = m(x)
    loss = F.cross_entropy(out, y)
    loss.backward()
    return {**describe(m), "input": t(x), "target": y.tolist(), "output": t(out), "loss": loss.item(), "grads": grads(m)}


# ---- (b) conv net, BatchNorm in train mode ----

def case_conv():
    m = init_params(nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)))
    m.train()
    x = formula_input([2, 1, 8, 8])
    y = classes(2, 3)
    out = m(x)
    loss = F.cross_entropy(out, y)
    loss.backward()
    bn = m[1]
    res = {**describe(m), "input": t(x), "target": y.tolist(), "output": t(out), "loss": loss.item(), "grads": grads(m),
           "buffers": {"1.running_mean": t(bn.running_mean), "1.running_var": t(bn.running_var),
                       "1.num_batches_tracked": int(bn.num_batches_tracked)}}
    # The same net in eval mode afterwards: uses the running statistics just updated.
    m.eval()
    with torch.no_grad():
        res["evalOutput"] = t(m(x))
    return res


# ---- (c) recurrent nets: last step into a Linear ----

class RecurrentNet(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](3, 5, num_layers=2, batch_first=True)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        out, state = self.rnn(x)
        return out, state, self.fc(out[:, -1])


def case_recurrent(kind):
    m = init_params(RecurrentNet(kind))
    x = formula_input([2, 4, 3])
    y = classes(2, 2)
    out, state, logits = m(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    res = {**describe(m), "input": t(x), "target": y.tolist(), "rnnOutput": t(out), "output": t(logits),
           "loss": loss.item(), "grads": grads(m)}
    if kind == "lstm":
        res["h"], res["c"] = t(state[0]), t(state[1])
    else:
        res["h"] = t(state)
    return res


# ---- (d) the seed SimpleNet ----

class SimpleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 5)
        self.fc2 = nn.Linear(5, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def case_simple():
    m = init_params(SimpleNet())
    out = m(torch.tensor([0.1, 0.2, 0.3]))
    return {**describe(m), "output": t(out), "repr": repr(m)}


# ---- (e) the MLP trained 5 steps by each optimizer ----

# Options as nodetorch spells them (camelCase); to_py() renames them for torch.optim.
OPTIMIZERS = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weightDecay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-6, "weightDecay": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weightDecay": 0.1}),
    ("RMSprop", {"lr": 0.01}),
    ("Adagrad", {"lr": 0.1}),
]


def to_py(opts):
    names = {"weightDecay": "weight_decay"}
    return {names.get(k, k): (tuple(v) if isinstance(v, list) else v) for k, v in opts.items()}


def case_train(name, opts):
    m = init_params(mlp())
    opt = getattr(torch.optim, name)(m.parameters(), **to_py(opts))
    x = formula_input([6, 4])
    y = classes(6, 3)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"optimizer": name, "options": opts, "losses": losses,
            "params": {n: t(p) for n, p in m.named_parameters()}}


# ---- (f) losses (and the other functional ops) on tiny inputs ----

def case_losses():
    cases = []

    def add(fn, options, inp, target, value, **extra):
        inp = inp.detach().requires_grad_(True)
        out = value(inp)
        out.sum().backward()
        cases.append({"fn": fn, "options": options, "input": t(inp.detach()), "target": target,
                      "output": t(out), "inputGrad": t(inp.grad), **extra})

    logits = formula_input([5, 3])
    cls = classes(5, 3)
    w3 = torch.tensor([0.2, 1.0, 2.5])
    for red in ["none", "mean", "sum"]:
        add("crossEntropy", {"reduction": red}, logits, cls.tolist(), lambda x: F.cross_entropy(x, cls, reduction=red))
        add("crossEntropy", {"reduction": red, "weight": w3.tolist()}, logits, cls.tolist(),
            lambda x: F.cross_entropy(x, cls, weight=w3, reduction=red))
        add("crossEntropy", {"reduction": red, "ignoreIndex": 1}, logits, cls.tolist(),
            lambda x: F.cross_entropy(x, cls, ignore_index=1, reduction=red))
        add("crossEntropy", {"reduction": red, "labelSmoothing": 0.1}, logits, cls.tolist(),
            lambda x: F.cross_entropy(x, cls, label_smoothing=0.1, reduction=red))
        add("crossEntropy", {"reduction": red, "weight": w3.tolist(), "labelSmoothing": 0.2, "ignoreIndex": 0},
            logits, cls.tolist(),
            lambda x: F.cross_entropy(x, cls, weight=w3, label_smoothing=0.2, ignore_index=0, reduction=red))

        logp = F.log_softmax(logits, 1)
        add("nllLoss", {"reduction": red}, logp, cls.tolist(), lambda x: F.nll_loss(x, cls, reduction=red))
        add("nllLoss", {"reduction": red, "weight": w3.tolist()}, logp, cls.tolist(),
            lambda x: F.nll_loss(x, cls, weight=w3, reduction=red))
        add("nllLoss", {"reduction": red, "ignoreIndex": 2}, logp, cls.tolist(),
            lambda x: F.nll_loss(x, cls, ignore_index=2, reduction=red))

        a = formula_input([2, 3])
        b = formula_target([2, 3])
        add("mseLoss", {"reduction": red}, a, t(b), lambda x: F.mse_loss(x, b, reduction=red))
        add("l1Loss", {"reduction": red}, a, t(b), lambda x: F.l1_loss(x, b, reduction=red))
        add("smoothL1Loss", {"reduction": red}, a, t(b), lambda x: F.smooth_l1_loss(x, b, reduction=red))
        add("smoothL1Loss", {"reduction": red, "beta": 0.3}, a, t(b),
            lambda x: F.smooth_l1_loss(x, b, reduction=red, beta=0.3))

        p = torch.sigmoid(formula_input([2, 3]))
        q = torch.sigmoid(2 * formula_target([2, 3]))
        wb = torch.tensor([[0.5, 1.0, 2.0], [1.5, 0.3, 1.0]])
        add("binaryCrossEntropy", {"reduction": red}, p, t(q), lambda x: F.binary_cross_entropy(x, q, reduction=red))
        add("binaryCrossEntropy", {"reduction": red, "weight": t(wb)}, p, t(q),
            lambda x: F.binary_cross_entropy(x, q, weight=wb, reduction=red))

        z = formula_input([2, 3]) * 2
        pw = torch.tensor([0.5, 2.0, 3.0])
        add("binaryCrossEntropyWithLogits", {"reduction": red}, z, t(q),
            lambda x: F.binary_cross_entropy_with_logits(x, q, reduction=red))
        add("binaryCrossEntropyWithLogits", {"reduction": red, "weight": t(wb), "posWeight": t(pw)}, z, t(q),
            lambda x: F.binary_cross_entropy_with_logits(x, q, weight=wb, pos_weight=pw, reduction=red))

    # Activations and layers as functions: options hold the extra arguments.
    x = formula_input([2, 5]) * 3
    add("relu", {}, x, None, F.relu)
    add("gelu", {}, x, None, F.gelu)
    add("sigmoid", {}, x, None, torch.sigmoid)
    add("tanh", {}, x, None, torch.tanh)
    # Weighted so the gradients are not zero by construction (softmax rows sum to 1).
    wsm = formula_target([2, 5])
    add("softmax", {"dim": 1}, x, t(wsm), lambda v: F.softmax(v, 1) * wsm)
    add("softmax", {"dim": 0}, x, t(wsm), lambda v: F.softmax(v, 0) * wsm)
    add("logSoftmax", {"dim": 1}, x, t(wsm), lambda v: F.log_softmax(v, 1) * wsm)
    add("dropout", {"p": 0.5, "training": False}, x, None, lambda v: F.dropout(v, p=0.5, training=False))
    lw, lb = formula_param(0, [3, 5]).float(), formula_param(1, [3]).float()
    add("linear", {"weight": t(lw), "bias": t(lb)}, x, None, lambda v: F.linear(v, lw, lb))
    img = formula_input([1, 2, 5, 5])
    cw, cb = formula_param(0, [3, 2, 3, 3]).float(), formula_param(1, [3]).float()
    add("conv2d", {"weight": t(cw), "bias": t(cb), "stride": 2, "padding": 1}, img, None,
        lambda v: F.conv2d(v, cw, cb, stride=2, padding=1))
    add("maxPool2d", {"kernelSize": 2, "stride": 1}, img, None, lambda v: F.max_pool2d(v, 2, stride=1))
    return cases


# ---- (g) the other modules: forward and gradients against PyTorch ----

def case_module(name, module, inputs, forward=None):
    init_params(module)
    xs = [x.detach().requires_grad_(x.is_floating_point()) for x in inputs]
    out = forward(module, *xs) if forward else module(*xs)
    weight = formula_target(list(out.shape))
    (out * weight).sum().backward()
    return {"name": name, **describe(module), "inputs": [t(x.detach()) for x in xs], "inputDtypes": [str(x.dtype)[6:] for x in xs],
            "output": t(out), "inputGrads": [t(x.grad) if x.grad is not None else None for x in xs], "grads": grads(module)}


def lstm_with_state(m, x, h0, c0):
    """Output, h and c of an LSTM given (h0, c0), flattened into one vector."""
    out, (h, c) = m(x, (h0, c0))
    return torch.cat([out.reshape(-1), h.reshape(-1), c.reshape(-1)])


def case_modules():
    idx = torch.tensor([[1, 4, 0], [3, 3, 2]])
    # MultiheadAttention and TransformerEncoderLayer are sequence-first ([L, N, E]): libtorch's C++
    # modules have no batch_first.
    mha = nn.MultiheadAttention(4, 2)
    enc = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0)
    return [
        case_module("Conv1d", nn.Conv1d(2, 3, 3, stride=2, padding=1), [formula_input([2, 2, 7])]),
        case_module("Conv2dGroups", nn.Conv2d(4, 2, 2, dilation=2, groups=2), [formula_input([1, 4, 5, 5])]),
        case_module("BatchNorm1d", nn.BatchNorm1d(3), [formula_input([4, 3])]),
        case_module("LayerNorm", nn.LayerNorm([2, 3]), [formula_input([2, 2, 3])]),
        case_module("Embedding", nn.Embedding(5, 3), [idx]),
        case_module("RNN", nn.RNN(3, 4, batch_first=True), [formula_input([2, 3, 3])], lambda m, x: m(x)[0]),
        case_module("GRUBidirectional", nn.GRU(3, 2, bidirectional=True), [formula_input([3, 2, 3])], lambda m, x: m(x)[0]),
        case_module("LSTMWithState", nn.LSTM(2, 3), [formula_input([2, 1, 2]), formula_target([1, 1, 3]), formula_input([1, 1, 3]) * 0.5],
                    lstm_with_state),
        case_module("AvgPool2d", nn.AvgPool2d(2, stride=1, padding=1), [formula_input([1, 2, 4, 4])]),
        case_module("AdaptiveAvgPool2d", nn.AdaptiveAvgPool2d(3), [formula_input([1, 2, 5, 7])]),
        case_module("MultiheadAttention", mha, [formula_input([3, 2, 4]), formula_target([3, 2, 4]), formula_target([3, 2, 4]) * 0.5],
                    lambda m, q, k, v: m(q, k, v)[0]),
        case_module("TransformerEncoderLayer", enc.train(), [formula_input([3, 2, 4])]),
    ]


def main():
    golden = {
        "generatedBy": "test/golden/modules.py",
        "torch": torch.__version__,
        "mlp": case_mlp(),
        "conv": case_conv(),
        "lstm": case_recurrent("lstm"),
        "gru": case_recurrent("gru"),
        "simple": case_simple(),
        "train": [case_train(n, o) for n, o in OPTIMIZERS],
        "functional": case_losses(),
        "modules": case_modules(),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "modules.json")
    with open(path, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
