# The same addon as CMakeLists.txt, for node-gyp (`npm run build:gyp`). Flags come from
# scripts/libtorch.js, so both builds agree on which libtorch they use.
{
  "targets": [
    {
      "target_name": "nodetorch",
      "sources": [
        "native/aten.cc", "native/distributed.cc",
        "native/autograd.cc", "native/binding.cc", "native/data.cc", "native/device.cc", "native/errors.cc",
        "native/jit.cc", "native/model.cc", "native/nn.cc", "native/rnn.cc", "native/keras_preprocessing.cc", "native/keras_attention.cc", "native/keras_merge.cc", "native/optim.cc", "native/tensor.cc", "native/tensor_ops.cc",
        "native/threads.cc", "native/amp.cc", "native/train_controls.cc"
      ],
      "include_dirs": ["<!@(node scripts/libtorch.js --include)"],
      "defines": ["NAPI_VERSION=8", "<!@(node scripts/libtorch.js --defines)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "ldflags": ["<!@(node scripts/libtorch.js --libs)"]
    }
  ]
}
