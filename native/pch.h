// Precompiled header: the heavy libtorch and N-API includes every native file shares.
#pragma once
#include <ATen/Parallel.h>
#include <node_api.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>
