# PyTorch's side of bench/ops_cost.ts: the same single ops, interleaved rounds, ns per op.
# /usr/bin/python3 bench/ops_cost.py [--rounds N] [--ms M] [--threads T]
import argparse
import os
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--ms", type=int, default=100)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    a1, b1 = torch.randn(1), torch.randn(1)
    m1, m2 = torch.randn(64, 64), torch.randn(64, 64)
    big = torch.randn(1_000_000)

    def loop(f):
        def body(n):
            for _ in range(n):
                f()
        return body

    cases = {
        "a + b": loop(lambda: a1 + b1),
        "a * b": loop(lambda: a1 * b1),
        "m[3]": loop(lambda: m1[3]),
        "m[8:40]": loop(lambda: m1[8:40]),
        "matmul 64": loop(lambda: m1 @ m2),
        "sum 1e6": loop(lambda: big.sum()),
    }

    def timed(body, n):
        t0 = time.perf_counter_ns()
        body(n)
        return (time.perf_counter_ns() - t0) / n

    load0 = os.getloadavg()
    iters = {}
    for name, body in cases.items():
        n = 64
        while timed(body, n) * n < 10e6 and n < 1 << 22:
            n *= 2
        iters[name] = max(64, round(args.ms * 1e6 / timed(body, n)))
    samples = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, body in cases.items():
            samples[name].append(timed(body, iters[name]))
    load1 = os.getloadavg()
    print(f"load average before {' '.join(f'{x:.2f}' for x in load0)}, after {' '.join(f'{x:.2f}' for x in load1)}; "
          f"{torch.get_num_threads()} intra-op thread(s); median of {args.rounds} interleaved rounds")
    for name, xs in samples.items():
        s = sorted(xs)
        print(f"{name:<40} {s[len(s) // 2]:8.0f} ns/op  (min {s[0]:.0f})")


if __name__ == "__main__":
    main()
