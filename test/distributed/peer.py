# Rank 1 of test/distributed.test.ts's Node + Python job: joins the Node rank's process group through
# torch.distributed's own env:// rendezvous and makes the same calls as worker.ts's `interop`.
import datetime
import json
import os

import torch
import torch.distributed as dist

timeout = datetime.timedelta(milliseconds=int(os.environ.get("NT_TEST_TIMEOUT_MS", "20000")))
dist.init_process_group("gloo", init_method="env://", timeout=timeout)
rank = dist.get_rank()
t = torch.tensor([10.0, 20.0, 30.0])
dist.all_reduce(t)
b = torch.tensor([4.0, 5.0])
dist.broadcast(b, src=1)
gathered = [torch.zeros(1) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, torch.tensor([rank + 0.5]))
dist.barrier()
# printed before the teardown, so a teardown that outlives the test's deadline (once, in a full
# 2.6 lane run under load: the Python rank was killed with nothing printed) keeps the values
print("RESULT " + json.dumps({"rank": rank, "allReduce": t.tolist(), "broadcast": b.tolist(),
                              "allGather": [g.tolist() for g in gathered], "torch": torch.__version__}), flush=True)
dist.destroy_process_group()
