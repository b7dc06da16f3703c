# PyTorch baseline for bench/fit.ts: what Keras' fit does for the seed MLP, written in Python on the
# same libtorch: per epoch a fresh shuffle, batches of 32, forward, sparse CE, backward, Adam
# (Keras' epsilon 1e-7), and the running loss/accuracy Keras logs. Prints one JSON line.
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def epoch(model, opt, x, y, batch):
    n = x.shape[0]
    perm = torch.randperm(n)
    loss_sum = 0.0
    correct = 0.0
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * xb.shape[0]
        correct += (out.argmax(1) == yb).sum().item()
    return loss_sum / n, correct / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--samples", type=int, default=60_000)
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.rand(args.samples, 28, 28)
    y = torch.randint(0, 10, (args.samples,))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    epoch(model, opt, x[:1600], y[:1600], 32)
    t0 = time.perf_counter_ns()
    loss, _ = epoch(model, opt, x, y, 32)
    seconds = (time.perf_counter_ns() - t0) / 1e9
    steps = (args.samples + 31) // 32
    print(json.dumps({
        "bench": "fit", "impl": "pytorch", "threads": torch.get_num_threads(), "samples": args.samples, "loss": loss,
        "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "variants": {"eager": {"epoch": {"us": seconds * 1e6 / steps, "seconds": seconds, "steps": steps}}},
    }))


if __name__ == "__main__":
    main()
