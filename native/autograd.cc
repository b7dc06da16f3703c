// Autograd: backward, gradients, requires-grad flags and the (thread-local) grad mode.
#include "tensor.h"

namespace nt {
namespace {

// tensor_backward(t, gradient | undefined, retainGraph, createGraph)
napi_value Backward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  const at::Tensor t = a.Tensor(0, "tensor");
  at::Tensor grad;
  if (!a.IsNullish(1)) grad = a.Tensor(1, "gradient");
  if (!t.requires_grad())
    throw std::runtime_error(
        "backward() called on a tensor that does not require grad and has no grad_fn: "
        "create its inputs with { requiresGrad: true } and compute it outside noGrad()");
  if (!grad.defined() && t.numel() != 1)
    throw std::runtime_error("backward() without a gradient needs a scalar (one-element) tensor but got shape " +
                             ShapeString(t.sizes()) + ": pass a gradient of the same shape");
  if (grad.defined() && grad.sizes() != t.sizes())
    throw std::runtime_error("backward() gradient has shape " + ShapeString(grad.sizes()) +
                             " but the tensor has shape " + ShapeString(t.sizes()));
  c10::optional<bool> retain;
  if (!a.IsNullish(2)) retain = a.Bool(2, "retainGraph");
  t.backward(grad, retain, a.BoolOr(3, "createGraph", false));
  return nullptr;
}

// autograd_grad(outputs[], inputs[], gradOutputs[] | null, retainGraph, createGraph, allowUnused)
napi_value Grad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  std::vector<at::Tensor> outputs = a.TensorList(0, "outputs"), inputs = a.TensorList(1, "inputs");
  std::vector<at::Tensor> gradOutputs;
  if (!a.IsNullish(2)) gradOutputs = a.TensorList(2, "gradOutputs");
  c10::optional<bool> retain;
  if (!a.IsNullish(3)) retain = a.Bool(3, "retainGraph");
  auto grads = torch::autograd::grad(outputs, inputs, gradOutputs, retain, a.BoolOr(4, "createGraph", false),
                                     a.BoolOr(5, "allowUnused", false));
  napi_value arr;
  Check(env, napi_create_array_with_length(env, grads.size(), &arr));
  for (size_t i = 0; i < grads.size(); i++) {
    napi_value v;
    if (grads[i].defined())
      v = Wrap(env, grads[i]);
    else
      napi_get_null(env, &v);
    Check(env, napi_set_element(env, arr, i, v));
  }
  return arr;
}

napi_value GetGrad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::Tensor g = a.Tensor(0, "tensor").grad();
  if (!g.defined()) {
    napi_value n;
    napi_get_null(env, &n);
    return n;
  }
  return Wrap(env, g);
}

napi_value SetGrad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::Tensor t = a.Tensor(0, "tensor");
  if (a.IsNullish(1)) {
    t.mutable_grad() = at::Tensor();
    return nullptr;
  }
  const at::Tensor& g = a.Tensor(1, "grad");
  if (g.sizes() != t.sizes() || g.scalar_type() != t.scalar_type() || g.device() != t.device())
    throw std::runtime_error("grad must match the tensor: got " + TensorDesc(g) + " for " + TensorDesc(t));
  t.mutable_grad() = g;
  return nullptr;
}

napi_value RequiresGrad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return MakeBool(env, a.Tensor(0, "tensor").requires_grad());
}

napi_value SetRequiresGrad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::Tensor t = a.Tensor(0, "tensor");
  bool flag = a.BoolOr(1, "requiresGrad", true);
  if (flag && !at::isFloatingType(t.scalar_type()) && !at::isComplexType(t.scalar_type()))
    throw std::runtime_error("only floating-point tensors can require gradients but this tensor is " +
                             DtypeName(t.scalar_type()));
  t.requires_grad_(flag);
  return nullptr;
}

napi_value ZeroGrad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::Tensor t = a.Tensor(0, "tensor");
  at::Tensor& g = t.mutable_grad();
  if (g.defined()) {
    at::NoGradGuard ng;
    g.zero_();
  }
  return nullptr;
}

napi_value RetainGrad(napi_env env, napi_callback_info info) {
  Args a(env, info);
  a.Tensor(0, "tensor").retain_grad();
  return nullptr;
}

napi_value IsLeaf(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return MakeBool(env, a.Tensor(0, "tensor").is_leaf());
}

napi_value GradFn(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto fn = a.Tensor(0, "tensor").grad_fn();
  if (!fn) {
    napi_value n;
    napi_get_null(env, &n);
    return n;
  }
  std::string name = fn->name();
  // a C++ custom function, "torch::autograd::CppNode<nt::(anonymous namespace)::FusedLstm>", prints
  // as PyTorch prints a Python one: "FusedLstmBackward"
  const std::string node = "torch::autograd::CppNode<";
  if (name.rfind(node, 0) == 0 && name.back() == '>')
    name = name.substr(node.size(), name.size() - node.size() - 1) + "Backward";
  // "torch::autograd::AddBackward0" -> "AddBackward0", as PyTorch prints it.
  size_t p = name.rfind("::");
  return MakeString(env, p == std::string::npos ? name : name.substr(p + 2));
}

napi_value SetGradEnabled(napi_env env, napi_callback_info info) {
  Args a(env, info);
  bool prev = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(a.Bool(0, "enabled"));
  return MakeBool(env, prev);
}

napi_value IsGradEnabled(napi_env env, napi_callback_info) { return MakeBool(env, c10::GradMode::is_enabled()); }

// Swaps a tensor's data in place, keeping its identity (Parameter objects, optimizer state keyed
// on it stay valid), as Module.to() does.
napi_value SetData(napi_env env, napi_callback_info info) {
  Args a(env, info);
  at::Tensor x = a.Tensor(0, "tensor");
  const at::Tensor data = a.Tensor(1, "data");
  if (!x.is_leaf()) throw ArgError("set_data: only a leaf tensor (a parameter or buffer) can have its data replaced");
  x.set_data(data);
  return nullptr;
}

const Export kExports[] = {
    NT_EXPORT("tensor_set_data", SetData),
    NT_EXPORT("tensor_backward", Backward),
    NT_EXPORT("autograd_grad", Grad),
    NT_EXPORT("tensor_grad", GetGrad),
    NT_EXPORT("tensor_set_grad", SetGrad),
    NT_EXPORT("tensor_requires_grad", RequiresGrad),
    NT_EXPORT("tensor_requires_grad_", SetRequiresGrad),
    NT_EXPORT("tensor_zero_grad_", ZeroGrad),
    NT_EXPORT("tensor_retain_grad", RetainGrad),
    NT_EXPORT("tensor_is_leaf", IsLeaf),
    NT_EXPORT("tensor_grad_fn", GradFn),
    NT_EXPORT("set_grad_enabled", SetGradEnabled),
    NT_EXPORT("is_grad_enabled", IsGradEnabled),
};

}  // namespace

void RegisterAutograd(napi_env env, napi_value exports) {
  Register(env, exports, kExports, sizeof(kExports) / sizeof(kExports[0]));
}

}  // namespace nt
