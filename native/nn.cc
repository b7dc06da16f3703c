// torch::nn modules and functional ops.
#include "tensor.h"

namespace nt {
void RegisterNN(napi_env env, napi_value exports) {}
}  // namespace nt
