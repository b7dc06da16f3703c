# PyTorch baseline for bench/aten.ts: topk, cumsum and einsum on the same small tensors, timed like
# time_loop() in bench/ops.py. Run with /usr/bin/python3 (Debian's torch, the same libtorch as
# nodetorch); prints one JSON line for scripts/bench.js.
import argparse
import json

import torch

from ops import measure


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(4, 8)
    a, b = torch.randn(4, 4), torch.randn(4, 4)

    def topk(n):
        for _ in range(n):
            x.topk(2)

    def cumsum(n):
        for _ in range(n):
            x.cumsum(1)

    def einsum(n):
        for _ in range(n):
            torch.einsum("ij,jk->ik", a, b)

    cases = {"topk": measure(topk), "cumsum": measure(cumsum), "einsum": measure(einsum)}
    print(json.dumps({"variants": {"pytorch": cases}, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
