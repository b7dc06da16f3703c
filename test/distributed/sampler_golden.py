# Writes test/golden/distributed_sampler.json: the indices torch.utils.data.DistributedSampler gives
# each rank, for the cases test/distributed.test.ts checks nt's DistributedSampler against.
# Run: /usr/bin/python3 test/distributed/sampler_golden.py
import json
import os

import torch
from torch.utils.data.distributed import DistributedSampler

cases = []
for n, replicas, shuffle, drop_last, seed, epoch in [
    (10, 3, True, False, 0, 0), (10, 3, True, False, 0, 1), (10, 3, True, True, 7, 2),
    (10, 3, False, False, 0, 0), (10, 3, False, True, 0, 0), (2, 4, True, False, 5, 3), (1000, 2, True, False, 42, 9),
]:
    out = []
    for rank in range(replicas):
        s = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        out.append(list(iter(s)))
    cases.append({"n": n, "numReplicas": replicas, "shuffle": shuffle, "dropLast": drop_last, "seed": seed,
                  "epoch": epoch, "indices": out})
path = os.path.join(os.path.dirname(__file__), "..", "golden", "distributed_sampler.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print("wrote", path)
