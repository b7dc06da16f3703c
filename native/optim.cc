// Optimizers over libtorch's torch::optim (filled in by the optimizer work).
#include "tensor.h"

namespace nt {
void RegisterOptim(napi_env env, napi_value exports) {}
}  // namespace nt
