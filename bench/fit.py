# PyTorch baseline for bench/fit.ts: what Keras' fit does for a seed model (--model mlp|cnn|lstm|gru),
# written in Python on the same libtorch: a fresh shuffle, batches of 32, forward, loss, backward,
# Adam (Keras' epsilon 1e-7), and the running loss/accuracy Keras logs. The CNN and LSTM time the
# first --steps batches of the epoch and extrapolate. Prints one JSON line.
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 32
# bench/common.ts FIT_MODELS: samples per epoch, warm-up batches, timed batches (0: the whole epoch)
MODELS = {
    "mlp": {"samples": 60_000, "warmup": 50, "steps": 0},
    "cnn": {"samples": 60_000, "warmup": 20, "steps": 500},
    "lstm": {"samples": 25_000, "warmup": 5, "steps": 200},
    "gru": {"samples": 25_000, "warmup": 5, "steps": 200},
}


class RecurrentClassifier(nn.Module):
    """Embedding(10000, 128) -> LSTM(128) or GRU(128), last step -> Linear(128, 1), as the Keras model."""

    def __init__(self, kind):
        super().__init__()
        self.embedding = nn.Embedding(10_000, 128)
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(128, 128, batch_first=True)
        self.fc = nn.Linear(128, 1)
        if kind == "lstm":
            # Keras' LSTM has one bias; nodetorch keeps torch's second one (bias_hh) at 0 and frozen.
            # (Keras' GRU with reset_after has two, as torch's.)
            with torch.no_grad():
                self.rnn.bias_hh_l0.zero_()
            self.rnn.bias_hh_l0.requires_grad_(False)

    def forward(self, x):
        out, _ = self.rnn(self.embedding(x))
        return self.fc(out[:, -1])


def sparse_ce(out, y):
    return F.cross_entropy(out, y), (out.argmax(1) == y).sum()


def binary_ce(out, y):
    # The last layer stays a logit, as a PyTorch user writes it; Keras' sigmoid + BCE is the same loss.
    return F.binary_cross_entropy_with_logits(out, y), ((out > 0).float() == y).sum()


def build(name, n):
    """The model, the loss (returning loss and correct count), and n samples from libtorch's generator."""
    if name == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        return model, sparse_ce, torch.rand(n, 28, 28), torch.randint(0, 10, (n,))
    if name == "cnn":
        # NCHW, PyTorch's natural layout; with one channel the same memory as fit.ts' [n, 28, 28, 1].
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(32 * 13 * 13, 64), nn.ReLU(), nn.Linear(64, 10))
        return model, sparse_ce, torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
    x = torch.randint(0, 10_000, (n, 200))
    return RecurrentClassifier(name), binary_ce, x, torch.randint(0, 2, (n, 1)).float()


def epoch(model, opt, loss_fn, x, y, steps):
    """The first `steps` batches of one shuffled epoch; returns Keras' running loss and accuracy."""
    n = x.shape[0]
    perm = torch.randperm(n)
    loss_sum = 0.0
    correct = 0.0
    seen = 0
    for i in range(0, min(n, steps * BATCH), BATCH):
        idx = perm[i:i + BATCH]
        xb, yb = x[idx], y[idx]
        opt.zero_grad()
        out = model(xb)
        loss, right = loss_fn(out, yb)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * xb.shape[0]
        correct += right.item()
        seen += xb.shape[0]
    return loss_sum / seen, correct / seen


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=list(MODELS), default="mlp")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    args = p.parse_args()
    spec = MODELS[args.model]
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    samples = args.samples or spec["samples"]
    epoch_steps = (samples + BATCH - 1) // BATCH
    steps = args.steps if args.steps is not None else spec["steps"]
    steps = epoch_steps if steps == 0 else min(steps, epoch_steps)
    warmup = args.warmup if args.warmup is not None else spec["warmup"]
    torch.manual_seed(0)
    model, loss_fn, x, y = build(args.model, samples)
    opt = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=1e-3, eps=1e-7)
    epoch(model, opt, loss_fn, x, y, warmup)
    t0 = time.perf_counter_ns()
    c0 = time.process_time_ns()
    loss, _ = epoch(model, opt, loss_fn, x, y, steps)
    seconds = (time.perf_counter_ns() - t0) / 1e9
    us = seconds * 1e6 / steps
    # CPU time of the process per step (all threads), as fit.ts reports it
    cpu_us = (time.process_time_ns() - c0) / 1e3 / steps
    print(json.dumps({
        "bench": "fit", "model": args.model, "impl": "pytorch", "threads": torch.get_num_threads(), "samples": samples,
        "warmup": warmup, "loss": loss, "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "variants": {"eager": {"epoch": {"us": us, "cpuUs": cpu_us, "seconds": us * epoch_steps / 1e6, "steps": steps,
                                         "epochSteps": epoch_steps, "timedSeconds": seconds}}},
    }))


if __name__ == "__main__":
    main()
