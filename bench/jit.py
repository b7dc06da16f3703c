# PyTorch baseline for bench/jit.ts: forward latency of one traced small CNN (MNIST-shaped input),
# loaded with torch.jit.load from the file this script exports, at batch 1 and 64, timed like
# time_loop() in bench/ops.py. Run with /usr/bin/python3 (Debian's torch, the same libtorch as
# nodetorch); prints one JSON line for scripts/bench.js.
#
#   python3 bench/jit.py --export FILE     writes the traced CNN (seed 0) to FILE and exits
#   python3 bench/jit.py [--threads N]     exports to a temporary file, loads it and times forward
import argparse
import json
import os
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

from ops import measure

BATCHES = [1, 64]  # BATCHES in bench/jit.ts
WARMUP = 5  # WARMUP in bench/jit.ts


class SmallCNN(nn.Module):
    """The seed CNN's shape: two 3x3 convolutions with pooling, then two linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def export(path):
    torch.manual_seed(0)
    model = SmallCNN().eval()
    torch.jit.trace(model, torch.zeros(1, 1, 28, 28)).save(path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--export", default=None)
    args = p.parse_args()
    if args.export:
        export(args.export)
        return
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cnn.pt")
        export(path)
        model = torch.jit.load(path).eval()
    torch.manual_seed(0)
    results = {}
    with torch.no_grad():
        checksum = float(model(torch.ones(2, 1, 28, 28)).sum())
        for b in BATCHES:
            x = torch.randn(b, 1, 28, 28)
            # TorchScript's profiling executor specializes on the first calls with a new shape
            for _ in range(WARMUP):
                model(x)

            def body(n, x=x):
                for _ in range(n):
                    model(x)

            results[f"b{b}"] = measure(body)
    print(json.dumps({
        "bench": "jit",
        "impl": "pytorch",
        "threads": torch.get_num_threads(),
        "checksum": checksum,
        "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
        "variants": {"jit": results},
    }))


if __name__ == "__main__":
    main()
