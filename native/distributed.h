// c10d process groups (nt.distributed) and the gradient reducer of nn.DistributedDataParallel.
#pragma once
#include "errors.h"

namespace nt {
void RegisterDistributed(napi_env env, napi_value exports);
}  // namespace nt
