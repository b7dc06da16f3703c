// Precompiled header: the heavy libtorch and N-API includes every native file shares.
#pragma once
#include <torch/torch.h>
#include <ATen/Parallel.h>
#include <node_api.h>

#include <cstdint>
#include <string>
#include <vector>
