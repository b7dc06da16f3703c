# Fixtures for test/jit.test.ts: TorchScript modules saved by PyTorch, their inputs and PyTorch's
# outputs. usage: python3 test/jit_fixtures.py OUT_DIR
# Tensors go to OUT_DIR/<name>.bin (raw little-endian data) with shape and dtype in OUT_DIR/meta.json;
# numbers, names and small results go to meta.json directly.
import json
import os
import sys
import zipfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
meta = {"tensors": {}}


def save_tensor(name, t):
    t = t.detach().contiguous().cpu()
    t.numpy().tofile(os.path.join(out, name + ".bin"))
    meta["tensors"][name] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}


def path(name):
    return os.path.join(out, name)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.pool(F.relu(self.conv2(x)))
        return self.fc(torch.flatten(x, 1))


class Multi(nn.Module):
    """Takes and returns tuples, dicts, lists, numbers, booleans, strings and None."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, pair: Tuple[Tensor, Tensor], d: Dict[str, Tensor], scale: float, n: int, flag: bool,
                tag: str, xs: List[Tensor], opt: Optional[Tensor] = None) -> Tuple[Tuple[Tensor, Tensor], Dict[str, Tensor]]:
        a, b = pair
        s = a + b * scale
        if flag:
            s = -s
        out: Dict[str, Tensor] = {}
        for k, v in d.items():
            out[k + "_" + tag] = self.lin(v) * n
        total = torch.zeros_like(xs[0])
        for x in xs:
            total = total + x
        if opt is not None:
            total = total + opt
        return (s, total), out

    @torch.jit.export
    def embed(self, x: Tensor) -> Tensor:
        return self.lin(x).relu()

    @torch.jit.export
    def check(self, x: Tensor) -> Tensor:
        if bool(x.sum() > 1000):
            raise ValueError("sum too large")
        return x

    @torch.jit.export
    def describe(self, x: Tensor) -> Tuple[int, float, bool, str, Optional[int], List[int], Dict[int, float], List[Tensor]]:
        return (x.dim(), float(x.sum().item()), bool(x.sum().item() > 0), "shape", None, x.shape, {0: 1.5, 7: 2.5},
                [x, x + 1])


class Drop(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.lin(x))


class Slow(nn.Module):
    """A forward that takes a while: n chained 256x256 matmuls."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(256, 256) / 16)

    def forward(self, x: Tensor, n: int) -> Tensor:
        for _ in range(n):
            x = torch.tanh(x @ self.w)
        return x


torch.manual_seed(0)

# A traced CNN with buffers (batch norm), saved in eval mode.
cnn = SmallCNN()
with torch.no_grad():
    cnn.bn1.running_mean.uniform_(-0.1, 0.1)
    cnn.bn1.running_var.uniform_(0.5, 1.5)
cnn.eval()
x = torch.randn(4, 1, 28, 28)
torch.jit.trace(cnn, x).save(path("cnn.pt"))
loaded = torch.jit.load(path("cnn.pt"))
save_tensor("cnn_x", x)
with torch.no_grad():
    save_tensor("cnn_y", loaded(x))
    for i in range(4):
        save_tensor(f"cnn_y{i}", loaded(x[i:i + 1]))
meta["cnn_params"] = [n for n, _ in loaded.named_parameters()]
meta["cnn_buffers"] = [n for n, _ in loaded.named_buffers()]
meta["cnn_state"] = list(loaded.state_dict().keys())
for n, p in loaded.named_parameters():
    save_tensor("cnn_p_" + n, p)
for n, b in loaded.named_buffers():
    save_tensor("cnn_b_" + n, b)

# A scripted module with structured inputs and outputs and other exported methods.
multi = torch.jit.script(Multi())
multi.save(path("multi.pt"))
m = torch.jit.load(path("multi.pt"))
a, b = torch.randn(2, 3), torch.randn(2, 3)
d = {"first": torch.randn(4, 3), "second": torch.randn(1, 3)}
xs = [torch.randn(2), torch.randn(2), torch.randn(2)]
opt = torch.randn(2)
for k, v in [("m_a", a), ("m_b", b), ("m_first", d["first"]), ("m_second", d["second"]), ("m_x0", xs[0]),
             ("m_x1", xs[1]), ("m_x2", xs[2]), ("m_opt", opt)]:
    save_tensor(k, v)
with torch.no_grad():
    (s, total), o = m((a, b), d, 0.5, 3, True, "t", xs, opt)
    save_tensor("m_s", s)
    save_tensor("m_total", total)
    meta["m_out_keys"] = list(o.keys())
    for k, v in o.items():
        save_tensor("m_out_" + k, v)
    (_, total_no_opt), _ = m((a, b), d, 0.5, 3, True, "t", xs)
    save_tensor("m_total_no_opt", total_no_opt)
    save_tensor("m_embed", m.embed(a))
    desc = m.describe(a)
    meta["m_describe"] = [desc[0], desc[1], desc[2], desc[3], desc[4], desc[5], {str(k): v for k, v in desc[6].items()}]
meta["m_params"] = [n for n, _ in m.named_parameters()]

# Dropout: saved in train mode; eval output is deterministic.
drop = Drop()
drop.train()
torch.jit.script(drop).save(path("drop.pt"))
dl = torch.jit.load(path("drop.pt"))
meta["drop_training"] = dl.training
xd = torch.randn(16, 8)
save_tensor("drop_x", xd)
dl.eval()
with torch.no_grad():
    save_tensor("drop_eval", dl(xd))

# A long forward, for the event-loop test.
slow = torch.jit.script(Slow())
slow.save(path("slow.pt"))
sl = torch.jit.load(path("slow.pt"))
xs_ = torch.randn(64, 256)
save_tensor("slow_x", xs_)
with torch.no_grad():
    save_tensor("slow_y3", sl(xs_, 3))

# Not TorchScript: a torch.save()d state dict (a zip archive too).
torch.save(cnn.state_dict(), path("state_dict.pt"))

# A TorchScript archive claiming a file format newer than any PyTorch: its version record rewritten.
with zipfile.ZipFile(path("cnn.pt")) as src, zipfile.ZipFile(path("future.pt"), "w", zipfile.ZIP_STORED) as dst:
    names = src.namelist()
    for name in names:
        data = src.read(name)
        if name.endswith("/version") and "/.data/" not in name:
            data = b"99\n"
        dst.writestr(src.getinfo(name), data)
meta["cnn_entries"] = names

with open(path("meta.json"), "w") as f:
    json.dump(meta, f, indent=1)
