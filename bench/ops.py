# PyTorch baseline for bench/ops.ts: the same per-op cases, timed the same way (see timeLoop in
# bench/common.ts). Run with /usr/bin/python3 (Debian's torch); prints one JSON line for scripts/bench.js.
import argparse
import json
import os
import sys
import time

import torch

TARGET_MS = float(os.environ.get("BENCH_TARGET_MS", 200))
REPS = int(os.environ.get("BENCH_REPS", 7))
AUTOGRAD_SIZE = 16  # AUTOGRAD_SIZE in bench/common.ts


def time_loop(body):
    """timeLoop() of bench/common.ts: doubling n until a run takes 20 ms warms up and calibrates;
    then the median of REPS runs."""
    n = 1
    while True:
        t0 = time.perf_counter_ns()
        body(n)
        ms = (time.perf_counter_ns() - t0) / 1e6
        if ms >= 20 or n >= 1 << 24:
            break
        n *= 2
    iters = max(1, round(n * TARGET_MS / max(ms, 1e-3)))
    # The first runs include warm-up; one full-length run refines the count.
    t0 = time.perf_counter_ns()
    body(iters)
    ms = (time.perf_counter_ns() - t0) / 1e6
    iters = max(1, round(iters * TARGET_MS / max(ms, 1e-3)))
    samples = []
    for _ in range(REPS):
        t0 = time.perf_counter_ns()
        body(iters)
        samples.append((time.perf_counter_ns() - t0) / 1e3 / iters)
    s = sorted(samples)
    m = len(s) // 2
    us = s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
    return {"us": us, "samples": samples, "iters": iters}


def measure(body):
    try:
        return time_loop(body)
    except Exception as e:  # one failing case must not lose the others
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    a1, b1 = torch.randn(1), torch.randn(1)
    m1, m2 = torch.randn(64, 64), torch.randn(64, 64)
    big = torch.randn(1_000_000)
    x = torch.randn(AUTOGRAD_SIZE, requires_grad=True)

    # Results are dropped at once, as in idiomatic Python: refcounting frees them.
    def add(n):
        for _ in range(n):
            a1.add(b1)

    def matmul(n):
        for _ in range(n):
            m1.matmul(m2)

    def sum_(n):
        for _ in range(n):
            big.sum()

    def autograd(n):
        for _ in range(n):
            x.grad = None
            x.mul(2).add(1).tanh().exp().mul(x).sigmoid().sub(0.5).relu().square().mean().backward()

    cases = {"add": add, "matmul": matmul, "sum": sum_, "autograd": autograd}
    results = {name: measure(body) for name, body in cases.items()}
    print(json.dumps({
        "bench": "ops",
        "impl": "pytorch",
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "python": sys.version.split()[0]},
        "variants": {"eager": results},
        "timing": {"targetMs": TARGET_MS, "reps": REPS},
    }))


if __name__ == "__main__":
    main()
