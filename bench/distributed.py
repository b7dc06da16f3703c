# torch.distributed's side of bench/distributed.ts (same sizes, iteration counts and model): Gloo
# all_reduce throughput on 127.0.0.1 and the seed MLP's step under DistributedDataParallel against
# one process. Starts 2 ranks of itself with one intra-op thread each; rank 0 prints the JSON line.
import json
import os
import socket
import subprocess
import sys
import time

SIZES = [("1 KB", 1 << 10), ("16 KB", 1 << 14), ("256 KB", 1 << 18), ("4 MB", 1 << 22), ("64 MB", 1 << 26)]
REPS = 3
STEP_REPS = 15  # STEP_REPS in bench/distributed.ts
BATCH = 64
STEPS = 20


def iters(nbytes):
    return min(1000, max(5, round(2 ** 28 / nbytes)))


def rank():
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="env://")
    me = dist.get_rank()
    variants = {"allreduce": {}, "step": {}}
    for name, nbytes in SIZES:
        t = torch.ones(nbytes // 4)
        n = iters(nbytes)
        for _ in range(3):
            dist.all_reduce(t)
        best = float("inf")
        for _ in range(REPS):
            dist.barrier()
            t0 = time.perf_counter()
            for _ in range(n):
                dist.all_reduce(t)
            best = min(best, (time.perf_counter() - t0) * 1e6 / n)
        variants["allreduce"][name] = {"us": best}
    torch.manual_seed(0)
    x = torch.randn(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))

    def make_net():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def time_steps(model, sync):
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        for _ in range(5):
            step()
        best = float("inf")
        for _ in range(STEP_REPS):
            if sync:
                dist.barrier()
            t0 = time.perf_counter()
            for _ in range(STEPS):
                step()
            best = min(best, (time.perf_counter() - t0) * 1e6 / STEPS)
        return best

    variants["step"]["ddp"] = {"us": time_steps(nn.parallel.DistributedDataParallel(make_net()), True)}
    dist.barrier()
    variants["step"]["local"] = {"us": time_steps(make_net(), False)}
    dist.barrier()
    dist.destroy_process_group()
    if me == 0:
        print(json.dumps({"variants": variants, "worldSize": 2, "threadsPerRank": 1, "torch": torch.__version__}), flush=True)


def main():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for r in range(2):
        env = dict(os.environ, NT_BENCH_RANK="1", RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo")
        procs.append(subprocess.Popen([sys.executable, __file__], env=env,
                                      stdout=None if r == 0 else subprocess.DEVNULL))
    codes = [p.wait(timeout=600) for p in procs]
    if any(codes):
        print(json.dumps({"error": f"a rank exited with status {codes}"}), flush=True)


if __name__ == "__main__":
    rank() if os.environ.get("NT_BENCH_RANK") else main()
