// Registration hooks for each native domain, and the env lifecycle of borrowed JS memory.
#pragma once
#include "errors.h"

namespace nt {
void RegisterTensor(napi_env env, napi_value exports);
void RegisterTensorOps(napi_env env, napi_value exports);
void RegisterAutograd(napi_env env, napi_value exports);
void RegisterDevice(napi_env env, napi_value exports);
void RegisterNN(napi_env env, napi_value exports);
void RegisterOptim(napi_env env, napi_value exports);
void RegisterModel(napi_env env, napi_value exports);
void RegisterData(napi_env env, napi_value exports);

void EnvStarted(napi_env env);
void EnvStopping(napi_env env);
void DrainBorrows(napi_env env);
}  // namespace nt
