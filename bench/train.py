# PyTorch baseline for bench/train.ts: the same seed MLP, loss, optimizer, data and loop, timed the
# same way. Run with /usr/bin/python3 (Debian's torch); prints one JSON line for scripts/bench.js.
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 32
WARMUP_STEPS = 50


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--samples", type=int, default=60_000)
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    # Same generator and seed as train.ts: identical data (compare the checksums).
    torch.manual_seed(0)
    x = torch.rand(args.samples, 28, 28)
    y = torch.randint(0, 10, (args.samples,))
    checksum = x.sum().item()

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = args.samples // BATCH

    def step(i):
        xb = x[i * BATCH:(i + 1) * BATCH]
        yb = y[i * BATCH:(i + 1) * BATCH]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    for i in range(WARMUP_STEPS):
        step(i % steps)
    t0 = time.perf_counter_ns()
    for i in range(steps):
        step(i)
    seconds = (time.perf_counter_ns() - t0) / 1e9
    with torch.no_grad():
        final_loss = F.cross_entropy(model(x[:1024]), y[:1024]).item()

    print(json.dumps({
        "bench": "train",
        "impl": "pytorch",
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
        "samples": args.samples,
        "batch": BATCH,
        "checksum": checksum,
        "finalLoss": final_loss,
        "variants": {"eager": {"epoch": {"us": seconds * 1e6 / steps, "seconds": seconds, "steps": steps}}},
    }))


if __name__ == "__main__":
    main()
