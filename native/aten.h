// The generic ATen caller: any aten:: operator through libtorch's dispatcher, arguments
// converted from JS by the operator's schema (native/aten.cc).
#pragma once
#include "errors.h"

namespace nt {
void RegisterAten(napi_env env, napi_value exports);
}  // namespace nt
