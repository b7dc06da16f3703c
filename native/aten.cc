// The generic ATen caller: invokes any aten:: operator through c10::Dispatcher by its schema.
// Arguments are converted from JS by each overload's schema and overloads are chosen by the
// types of the arguments, as PyTorch's Python binding does; resolved overloads are cached per op.
#include "aten.h"

#include <ATen/ScalarOps.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>
#include <unordered_map>

namespace nt {

namespace {

using c10::IValue;
using c10::TypeKind;

// What a schema argument accepts, after Optional and List are unwrapped.
enum class K : uint8_t {
  Tensor,
  Int,
  Float,
  Bool,
  Scalar,
  String,
  ScalarType,
  Layout,
  Device,
  MemoryFormat,
  IntList,
  FloatList,
  BoolList,
  TensorList,
  OptTensorList,
  NoneOnly,  // an optional argument of a type JS cannot build (Generator?, Dimname[]?): only None
  Unsupported,
};

struct Param {
  std::string name;   // schema spelling (keepdim, memory_format)
  std::string camel;  // the JS spelling (memoryFormat)
  std::string type;   // schema type, for messages
  K kind = K::Unsupported;
  bool optional = false;  // accepts None
  bool hasDefault = false;
  IValue dflt;
  int32_t n = 0;  // fixed list length (int[2]); 0 when any
  bool kwargOnly = false;
  bool writes = false;  // Tensor(a!): mutated in place
};

struct Ret {
  std::string name;
  bool dtype = false;  // a ScalarType comes back as an int
};

struct Overload {
  explicit Overload(c10::OperatorHandle h) : op(std::move(h)) {}
  c10::OperatorHandle op;
  std::string overload;
  std::vector<Param> params;
  std::vector<Ret> rets;
  size_t positional = 0;  // parameters before the schema's '*'
  std::string why;        // non-empty: cannot be called from JS
  int aliasParam = -1;    // the single result is this (mutated) input: return the caller's object
};

struct OpEntry {
  std::string name;
  std::string camel;  // the JS name, for messages
  std::vector<Overload> overloads;
};

// JS values classified once per call; overloads are then matched without touching N-API.
struct JsArg {
  enum T : uint8_t { Missing, None, Bool, Int, Float, Str, Tensor, List, Object, Other } t = Missing;
  enum L : uint8_t { Empty, Ints, Numbers, Bools, Tensors, TensorsOrNull, Mixed } l = Empty;
  napi_value v = nullptr;
  double d = 0;
  int64_t i = 0;
  bool b = false;
  at::Tensor tensor;
  std::vector<double> nums;         // Ints / Numbers / Bools (0 or 1)
  std::vector<at::Tensor> tensors;  // Tensors / TensorsOrNull (undefined for null)
};

struct Registry {
  bool indexed = false;
  std::unordered_map<std::string, std::vector<c10::OperatorName>> byName;
  std::vector<OpEntry> ops;
  std::unordered_map<std::string, int> ids;
  napi_ref tensorClass = nullptr;
  napi_ref wrapFn = nullptr;
  napi_ref dtypeFn = nullptr;
};

// Per JS thread (each has its own handle table and its own Tensor class).
Registry& Reg() {
  static thread_local Registry reg;
  return reg;
}

std::string Camel(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
        std::isalnum(static_cast<unsigned char>(s[i + 1]))) {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(s[++i])));
    } else {
      out += s[i];
    }
  }
  return out;
}

void Index(Registry& r) {
  if (r.indexed) return;
  for (const c10::OperatorName& n : c10::Dispatcher::singleton().getAllOpNames()) {
    if (n.name.rfind("aten::", 0) != 0) continue;
    r.byName[n.name.substr(6)].push_back(n);
  }
  r.indexed = true;
}

K LeafKind(const c10::TypePtr& t) {
  switch (t->kind()) {
    case TypeKind::TensorType: return K::Tensor;
    case TypeKind::IntType:
    case TypeKind::SymIntType: return K::Int;
    case TypeKind::FloatType:
    case TypeKind::SymFloatType: return K::Float;
    case TypeKind::BoolType: return K::Bool;
    case TypeKind::NumberType: return K::Scalar;
    case TypeKind::StringType: return K::String;
    case TypeKind::ScalarTypeType: return K::ScalarType;
    case TypeKind::LayoutType: return K::Layout;
    case TypeKind::DeviceObjType: return K::Device;
    case TypeKind::MemoryFormatType: return K::MemoryFormat;
    default: break;
  }
  // Kinds newer than libtorch 1.13 (SymBool) are matched by name.
  if (t->str() == "SymBool") return K::Bool;
  return K::Unsupported;
}

Param MakeParam(const c10::Argument& a) {
  Param p;
  p.name = a.name();
  p.camel = Camel(a.name());
  c10::TypePtr t = a.real_type();
  // shown to users (signatures in errors, the schema dump): a SymInt is an int to a caller, and
  // libtorch 2.x writes SymInt where 1.13 wrote int, so both lines read alike
  p.type = t->str();
  for (std::size_t at; (at = p.type.find("SymInt")) != std::string::npos;) p.type.replace(at, 6, "int");
  if (t->kind() == TypeKind::OptionalType) {
    p.optional = true;
    t = t->castRaw<c10::OptionalType>()->getElementType();
  }
  if (t->kind() == TypeKind::ListType) {
    c10::TypePtr e = t->castRaw<c10::ListType>()->getElementType();
    bool optElem = e->kind() == TypeKind::OptionalType;
    if (optElem) e = e->castRaw<c10::OptionalType>()->getElementType();
    K leaf = LeafKind(e);
    if (leaf == K::Tensor)
      p.kind = optElem ? K::OptTensorList : K::TensorList;
    else if (optElem)
      p.kind = K::Unsupported;
    else if (leaf == K::Int)
      p.kind = K::IntList;
    else if (leaf == K::Float)
      p.kind = K::FloatList;
    else if (leaf == K::Bool)
      p.kind = K::BoolList;
    else
      p.kind = K::Unsupported;
  } else {
    p.kind = LeafKind(t);
  }
  if (p.kind == K::Unsupported && p.optional) p.kind = K::NoneOnly;
  p.n = a.N() ? *a.N() : 0;
  p.hasDefault = a.default_value().has_value();
  if (p.hasDefault) p.dflt = *a.default_value();
  p.kwargOnly = a.kwarg_only();
  p.writes = a.alias_info() && a.alias_info()->isWrite();
  return p;
}

Overload MakeOverload(const c10::OperatorHandle& h) {
  Overload o(h);
  const c10::FunctionSchema& s = h.schema();
  o.overload = s.overload_name();
  // Named tensors' Dimname arguments are strings in the schema; their overloads say so in their names
  // (max.names_dim, sum.dim_DimnameList, transpose.Dimname).
  std::string lower = o.overload;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  const bool named = lower.find("dimname") != std::string::npos || lower.find("names") != std::string::npos;
  for (const c10::Argument& a : s.arguments()) {
    o.params.push_back(MakeParam(a));
    Param& p = o.params.back();
    if (named && p.type.rfind("str", 0) == 0) {
      p.kind = p.optional ? K::NoneOnly : K::Unsupported;
      p.type = "Dimname";
    }
    if (!p.kwargOnly) o.positional++;
    if (p.kind == K::Unsupported && o.why.empty()) o.why = "argument '" + p.name + "' has type " + p.type;
  }
  for (const c10::Argument& r : s.returns()) {
    Ret ret;
    ret.name = Camel(r.name());  // the JS spelling
    c10::TypePtr t = r.real_type();
    ret.dtype = t->kind() == TypeKind::ScalarTypeType;
    o.rets.push_back(ret);
  }
  if (s.is_vararg() || s.is_varret()) o.why = "variadic schema";
  // The single result aliases a written input (add_, out-less in-place ops): hand back the caller's object.
  if (s.returns().size() == 1 && s.returns()[0].alias_info() && s.returns()[0].alias_info()->isWrite()) {
    for (size_t i = 0; i < s.arguments().size(); i++) {
      const c10::AliasInfo* ai = s.arguments()[i].alias_info();
      if (ai && ai->isWrite() && ai->beforeSets() == s.returns()[0].alias_info()->beforeSets()) {
        o.aliasParam = static_cast<int>(i);
        break;
      }
    }
  }
  return o;
}

bool IsOutVariant(const c10::FunctionSchema& s) {
  for (const c10::Argument& a : s.arguments())
    if (a.is_out()) return true;
  return false;
}

// The op's id in this thread's table, or -1 when the running libtorch has no aten::name.
int Lookup(const std::string& name) {
  Registry& r = Reg();
  auto it = r.ids.find(name);
  if (it != r.ids.end()) return it->second;
  Index(r);
  auto names = r.byName.find(name);
  if (names == r.byName.end()) return -1;
  OpEntry e;
  e.name = name;
  e.camel = Camel(name);
  for (const c10::OperatorName& n : names->second) {
    c10::optional<c10::OperatorHandle> h = c10::Dispatcher::singleton().findSchema(n);
    if (!h || IsOutVariant(h->schema())) continue;
    e.overloads.push_back(MakeOverload(*h));
  }
  if (e.overloads.empty()) return -1;
  // A stable order (the dispatcher's is a hash order): fewer arguments first, then by overload name.
  std::stable_sort(e.overloads.begin(), e.overloads.end(), [](const Overload& a, const Overload& b) {
    if (a.params.size() != b.params.size()) return a.params.size() < b.params.size();
    return a.overload < b.overload;
  });
  int id = static_cast<int>(r.ops.size());
  r.ops.push_back(std::move(e));
  r.ids[name] = id;
  return id;
}

// ---- reading JS values ----

napi_valuetype TypeOf(napi_env env, napi_value v) {
  napi_valuetype t;
  Check(env, napi_typeof(env, v, &t));
  return t;
}

bool IsTensorObject(napi_env env, napi_value v) {
  Registry& r = Reg();
  if (!r.tensorClass) return false;
  napi_value cls;
  Check(env, napi_get_reference_value(env, r.tensorClass, &cls));
  bool is = false;
  Check(env, napi_instanceof(env, v, cls, &is));
  return is;
}

// Names an argument in the user's terms, rendered only when an error needs it.
struct Where {
  const char* prefix;                // "self", "argument ", "option "
  int64_t index = -1;                // argument number, or -1
  const std::string* key = nullptr;  // option name
  int64_t element = -1;              // list element, or -1
  std::string str() const {
    std::string s = prefix;
    if (index >= 0) s += std::to_string(index);
    if (key) s += *key;
    if (element >= 0) s += "[" + std::to_string(element) + "]";
    return s;
  }
};

// The libtorch tensor behind a JS Tensor object.
at::Tensor TensorOf(napi_env env, napi_value obj, const Where& where) {
  napi_value hv;
  Check(env, napi_get_named_property(env, obj, "_h", &hv));
  double d = -1;
  napi_get_value_double(env, hv, &d);
  if (d >= 0 && d < 9007199254740992.0 && d == std::floor(d)) {
    if (at::Tensor* p = Table().Get(static_cast<uint64_t>(d))) return *p;
  }
  throw ArgError(where.str() + " is a disposed Tensor: it was freed by dispose() or tidy() and cannot be used");
}

void ReadNumber(JsArg& a, double d) {
  a.d = d;
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0) {
    a.t = JsArg::Int;
    a.i = static_cast<int64_t>(d);
  } else {
    a.t = JsArg::Float;
  }
}

// shallow: an array is only noted as one (elements of lists: a nested array never fits a schema type,
// and reading it would recurse as deep as the caller's nesting).
void Classify(napi_env env, napi_value v, JsArg& a, const Where& where, bool shallow = false) {
  a.v = v;
  switch (TypeOf(env, v)) {
    case napi_undefined: a.t = JsArg::Missing; return;
    case napi_null: a.t = JsArg::None; return;
    case napi_boolean:
      a.t = JsArg::Bool;
      Check(env, napi_get_value_bool(env, v, &a.b));
      return;
    case napi_number: {
      double d;
      Check(env, napi_get_value_double(env, v, &d));
      ReadNumber(a, d);
      return;
    }
    case napi_bigint: {
      bool lossless = false;
      Check(env, napi_get_value_bigint_int64(env, v, &a.i, &lossless));
      if (!lossless) {
        a.t = JsArg::Other;
        return;
      }
      a.t = JsArg::Int;
      a.d = static_cast<double>(a.i);
      return;
    }
    case napi_string: a.t = JsArg::Str; return;
    case napi_object: break;
    default: a.t = JsArg::Other; return;
  }
  bool arr = false;
  Check(env, napi_is_array(env, v, &arr));
  if (!arr) {
    if (IsTensorObject(env, v)) {
      a.t = JsArg::Tensor;
      a.tensor = TensorOf(env, v, where);
    } else {
      a.t = JsArg::Object;
    }
    return;
  }
  a.t = JsArg::List;
  if (shallow) {
    a.l = JsArg::Mixed;
    return;
  }
  uint32_t n = 0;
  Check(env, napi_get_array_length(env, v, &n));
  if (n > 4096)
    throw ArgError("expected " + where.str() + " to have at most 4096 elements but it has " + std::to_string(n));
  bool ints = true, numbers = true, bools = true, tensors = true, withNull = false;
  for (uint32_t k = 0; k < n; k++) {
    napi_value e;
    Check(env, napi_get_element(env, v, k, &e));
    JsArg ea;
    Where w = where;
    w.element = k;
    Classify(env, e, ea, w, true);
    if (ea.t == JsArg::List || ea.t == JsArg::Object || ea.t == JsArg::Other || ea.t == JsArg::Str ||
        ea.t == JsArg::Missing) {
      a.l = JsArg::Mixed;
      return;
    }
    ints = ints && ea.t == JsArg::Int;
    numbers = numbers && (ea.t == JsArg::Int || ea.t == JsArg::Float);
    bools = bools && ea.t == JsArg::Bool;
    tensors = tensors && (ea.t == JsArg::Tensor || ea.t == JsArg::None);
    withNull = withNull || ea.t == JsArg::None;
    if (ea.t == JsArg::Tensor || ea.t == JsArg::None)
      a.tensors.push_back(ea.tensor);
    else if (ea.t == JsArg::Bool)
      a.nums.push_back(ea.b ? 1 : 0);
    else
      a.nums.push_back(ea.d);
  }
  if (n == 0)
    a.l = JsArg::Empty;
  else if (ints)
    a.l = JsArg::Ints;
  else if (numbers)
    a.l = JsArg::Numbers;
  else if (bools)
    a.l = JsArg::Bools;
  else if (tensors)
    a.l = withNull ? JsArg::TensorsOrNull : JsArg::Tensors;
  else
    a.l = JsArg::Mixed;
}

// ---- matching ----

const char* Expected(const Param& p) {
  switch (p.kind) {
    case K::Tensor: return "a Tensor";
    case K::Int: return "an integer";
    case K::Float: return "a number";
    case K::Bool: return "a boolean";
    case K::Scalar: return "a number or boolean";
    case K::String: return "a string";
    case K::ScalarType: return "a dtype name such as 'float32'";
    case K::Layout: return "a layout ('strided' or 'sparse_coo')";
    case K::Device: return "a device such as 'cpu' or 'cuda:0'";
    case K::MemoryFormat:
      return "a memory format ('contiguous_format', 'channels_last', 'channels_last_3d' or 'preserve_format')";
    case K::IntList: return p.n ? "an integer or an array of integers" : "an array of integers";
    case K::FloatList: return "an array of numbers";
    case K::BoolList: return "an array of booleans";
    case K::TensorList: return "an array of Tensors";
    case K::OptTensorList: return "an array of Tensors or nulls";
    case K::NoneOnly: return "null (nodetorch cannot pass this type)";
    case K::Unsupported: return "a value of a type nodetorch cannot pass";
  }
  return "a value";
}

// Cost of passing a to p: 0 exact, more for looser fits, -1 when it does not fit.
int Fit(const JsArg& a, const Param& p, bool numbersAsTensors) {
  if (a.t == JsArg::None) return p.optional || p.kind == K::NoneOnly ? 0 : -1;
  switch (p.kind) {
    case K::Tensor:
      if (a.t == JsArg::Tensor) return 0;
      if (numbersAsTensors && (a.t == JsArg::Int || a.t == JsArg::Float || a.t == JsArg::Bool)) return 10;
      return -1;
    case K::Int: return a.t == JsArg::Int ? 0 : -1;
    case K::Float: return a.t == JsArg::Float ? 0 : a.t == JsArg::Int ? 1 : -1;
    case K::Bool: return a.t == JsArg::Bool ? 0 : -1;
    case K::Scalar: return a.t == JsArg::Int || a.t == JsArg::Float || a.t == JsArg::Bool ? 1 : -1;
    case K::String:
    case K::ScalarType:
    case K::Layout:
    case K::MemoryFormat: return a.t == JsArg::Str ? 0 : -1;
    case K::Device: return a.t == JsArg::Str || a.t == JsArg::Object ? 0 : -1;
    case K::IntList:
      if (a.t == JsArg::Int && p.n > 0) return 1;
      return a.t == JsArg::List && (a.l == JsArg::Ints || a.l == JsArg::Empty) ? 0 : -1;
    case K::FloatList:
      if ((a.t == JsArg::Int || a.t == JsArg::Float) && p.n > 0) return 1;
      return a.t == JsArg::List && (a.l == JsArg::Ints || a.l == JsArg::Numbers || a.l == JsArg::Empty) ? 0 : -1;
    case K::BoolList: return a.t == JsArg::List && (a.l == JsArg::Bools || a.l == JsArg::Empty) ? 0 : -1;
    case K::TensorList: return a.t == JsArg::List && (a.l == JsArg::Tensors || a.l == JsArg::Empty) ? 0 : -1;
    case K::OptTensorList:
      return a.t == JsArg::List && (a.l == JsArg::Tensors || a.l == JsArg::TensorsOrNull || a.l == JsArg::Empty) ? 0
                                                                                                                 : -1;
    case K::NoneOnly:
    case K::Unsupported: return -1;
  }
  return -1;
}

struct Call {
  std::vector<JsArg> pos;                         // positional, self first for methods
  std::vector<std::pair<std::string, JsArg>> kw;  // options object entries
  bool method = false;
  std::string op;  // the JS name, for messages
};

// Why an overload did not fit, kept compact (rendered into a message only when no overload fits).
struct Miss {
  enum Code : uint8_t { None, Unsupported, Varargs, TooMany, Type, NoOption, Twice, Missing } code = None;
  size_t param = 0;  // the parameter
  size_t arg = 0;    // the positional argument, or the option's index in Call::kw
  size_t given = 0;  // TooMany: how many were given
  bool option = false;
};

// Binds the call's arguments to o's parameters. Returns the cost (>= 0), or -1 with *miss set.
int Bind(const Overload& o, const Call& c, bool numbersAsTensors, std::vector<const JsArg*>& slots, JsArg& varargs,
         Miss* miss) {
  if (!o.why.empty()) {
    miss->code = Miss::Unsupported;
    return -1;
  }
  const size_t np = o.params.size();
  slots.assign(np, nullptr);
  size_t npos = c.pos.size();
  int cost = 0;
  const size_t first = c.method ? 1 : 0;  // the user's argument numbering skips self
  // Python's varargs: t.view(2, 3), nt.zeros(2, 3) when the only positional parameter is an int list.
  if (npos > o.positional && o.positional == first + 1 && o.params[first].kind == K::IntList) {
    varargs = JsArg();
    varargs.t = JsArg::List;
    varargs.l = JsArg::Ints;
    for (size_t k = first; k < npos; k++) {
      if (c.pos[k].t != JsArg::Int) {
        *miss = Miss{Miss::Varargs, first, k};
        return -1;
      }
      varargs.nums.push_back(c.pos[k].d);
    }
    slots[first] = &varargs;
    npos = first + 1;
  } else if (o.positional > first && o.params[o.positional - 1].kind == K::TensorList && npos >= o.positional &&
             c.pos[o.positional - 1].t == JsArg::Tensor) {
    // Python's varargs for a trailing tensor list: nt.einsum('ij,jk->ik', a, b), nt.broadcastTensors(a, b)
    const size_t last = o.positional - 1;
    varargs = JsArg();
    varargs.t = JsArg::List;
    varargs.l = JsArg::Tensors;
    for (size_t k = last; k < npos; k++) {
      if (c.pos[k].t != JsArg::Tensor) {
        *miss = Miss{Miss::Type, last, k};
        return -1;
      }
      varargs.tensors.push_back(c.pos[k].tensor);
    }
    slots[last] = &varargs;
    npos = last;
  } else if (npos > o.positional) {
    *miss = Miss{Miss::TooMany, 0, 0, npos};
    return -1;
  }
  for (size_t k = 0; k < npos; k++) {
    if (slots[k]) continue;
    if (c.pos[k].t == JsArg::Missing) continue;  // undefined: the default, as if not given
    int f = Fit(c.pos[k], o.params[k], numbersAsTensors && k > 0);
    if (f < 0) {
      *miss = Miss{Miss::Type, k, k};
      return -1;
    }
    cost += f;
    slots[k] = &c.pos[k];
  }
  for (size_t i = 0; i < c.kw.size(); i++) {
    const auto& kv = c.kw[i];
    size_t k = 0;
    while (k < np && o.params[k].camel != kv.first && o.params[k].name != kv.first) k++;
    if (k == np || (c.method && k == 0)) {
      *miss = Miss{Miss::NoOption, 0, i, 0, true};
      return -1;
    }
    if (kv.second.t == JsArg::Missing) continue;
    if (slots[k]) {
      *miss = Miss{Miss::Twice, k, i, 0, true};
      return -1;
    }
    int f = Fit(kv.second, o.params[k], numbersAsTensors && k > 0);
    if (f < 0) {
      *miss = Miss{Miss::Type, k, i, 0, true};
      return -1;
    }
    cost += f;
    slots[k] = &kv.second;
  }
  for (size_t k = 0; k < np; k++) {
    if (slots[k] || o.params[k].hasDefault) continue;
    if (o.params[k].optional || o.params[k].kind == K::NoneOnly) {
      cost += 5;  // Python would want an explicit None here
      continue;
    }
    *miss = Miss{Miss::Missing, k};
    return -1;
  }
  return cost;
}

std::string Received(napi_env env, const JsArg& a) {
  if (a.t == JsArg::Tensor) return "a " + TensorDesc(a.tensor);
  if (!a.v) return "nothing";
  std::string d = DescribeValue(env, a.v);
  return a.t == JsArg::Object ? "an " + d : d;
}

std::string Explain(napi_env env, const Overload& o, const Call& c, const Miss& m) {
  const size_t first = c.method ? 1 : 0;
  auto argName = [&](size_t k) { return "argument " + std::to_string(k + 1 - first); };
  switch (m.code) {
    case Miss::Unsupported: return "not callable from nodetorch: " + o.why;
    case Miss::Varargs:
      return "expected integers for " + o.params[m.param].camel + " but " + argName(m.arg) + " is " +
             Received(env, c.pos[m.arg]);
    case Miss::TooMany: {
      size_t takes = o.positional - first;
      return "takes " + std::to_string(takes) + " positional argument" + (takes == 1 ? "" : "s") + " but " +
             std::to_string(m.given - first) + " were given";
    }
    case Miss::Type: {
      const Param& p = o.params[m.param];
      const JsArg& a = m.option ? c.kw[m.arg].second : c.pos[m.arg];
      return "expected " + std::string(Expected(p)) + " for " +
             (m.option ? "option " + p.camel : p.camel + " (" + argName(m.arg) + ")") + " but received " +
             Received(env, a);
    }
    case Miss::NoOption: {
      std::string names;
      for (size_t k = first; k < o.params.size(); k++) names += (names.empty() ? "" : ", ") + o.params[k].camel;
      return "has no option '" + c.kw[m.arg].first + "' (options: " + (names.empty() ? "none" : names) + ")";
    }
    case Miss::Twice: return "got " + o.params[m.param].camel + " both as " + argName(m.param) + " and as an option";
    case Miss::Missing: return "missing " + o.params[m.param].camel + " (" + o.params[m.param].type + ")";
    case Miss::None: break;
  }
  return "does not fit";
}

// ---- conversion ----

std::string ReadString(napi_env env, napi_value v) {
  size_t len = 0;
  Check(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len));
  std::string s(len + 1, '\0');
  Check(env, napi_get_value_string_utf8(env, v, &s[0], s.size(), &len));
  s.resize(len);
  return s;
}

at::ScalarType ReadDtype(napi_env env, napi_value v, const std::string& op) {
  // lib/dtype.ts owns the names and aliases: ask it (only calls that pass a dtype pay this).
  Registry& r = Reg();
  if (!r.dtypeFn) throw std::runtime_error("aten: not initialised (aten_init was not called)");
  napi_value fn, global, args[2], res;
  Check(env, napi_get_reference_value(env, r.dtypeFn, &fn));
  Check(env, napi_get_global(env, &global));
  args[0] = v;
  Check(env, napi_create_string_utf8(env, op.c_str(), op.size(), &args[1]));
  Check(env, napi_call_function(env, global, fn, 2, args, &res));
  int64_t code = -1;
  Check(env, napi_get_value_int64(env, res, &code));
  return DtypeFromCode(code);
}

at::Tensor WrappedNumber(const JsArg& a) {
  at::Scalar s = a.t == JsArg::Bool ? at::Scalar(a.b) : a.t == JsArg::Int ? at::Scalar(a.i) : at::Scalar(a.d);
  at::Tensor t = at::scalar_to_tensor(s);
  t.unsafeGetTensorImpl()->set_wrapped_number(true);
  return t;
}

IValue Convert(napi_env env, const JsArg& a, const Param& p, const std::string& op) {
  if (a.t == JsArg::None || a.t == JsArg::Missing) return IValue();
  switch (p.kind) {
    case K::Tensor: return a.t == JsArg::Tensor ? IValue(a.tensor) : IValue(WrappedNumber(a));
    case K::Int: return IValue(a.i);
    case K::Float: return IValue(a.d);
    case K::Bool: return IValue(a.b);
    case K::Scalar: return a.t == JsArg::Bool ? IValue(a.b) : a.t == JsArg::Int ? IValue(a.i) : IValue(a.d);
    case K::String: return IValue(ReadString(env, a.v));
    case K::ScalarType: return IValue(static_cast<int64_t>(ReadDtype(env, a.v, op)));
    case K::Layout: {
      std::string s = ReadString(env, a.v);
      if (s == "strided") return IValue(static_cast<int64_t>(at::kStrided));
      if (s == "sparse_coo") return IValue(static_cast<int64_t>(at::kSparse));
      throw ArgError("unknown layout '" + s + "' for " + p.camel + ": expected 'strided' or 'sparse_coo'");
    }
    case K::MemoryFormat: {
      std::string s = ReadString(env, a.v);
      if (s == "contiguous_format") return IValue(static_cast<int64_t>(at::MemoryFormat::Contiguous));
      if (s == "channels_last") return IValue(static_cast<int64_t>(at::MemoryFormat::ChannelsLast));
      if (s == "channels_last_3d") return IValue(static_cast<int64_t>(at::MemoryFormat::ChannelsLast3d));
      if (s == "preserve_format") return IValue(static_cast<int64_t>(at::MemoryFormat::Preserve));
      throw ArgError("unknown memory format '" + s + "' for " + p.camel + ": expected " + Expected(p));
    }
    case K::Device: {
      napi_value str;
      Check(env, napi_coerce_to_string(env, a.v, &str));
      return IValue(ParseDevice(ReadString(env, str)));
    }
    case K::IntList: {
      std::vector<int64_t> v;
      if (a.t == JsArg::Int) {
        v.assign(static_cast<size_t>(p.n), a.i);
      } else {
        v.reserve(a.nums.size());
        for (double d : a.nums) v.push_back(static_cast<int64_t>(d));
      }
      return IValue(v);
    }
    case K::FloatList: {
      std::vector<double> v;
      if (a.t != JsArg::List)
        v.assign(static_cast<size_t>(p.n), a.d);
      else
        v = a.nums;
      return IValue(v);
    }
    case K::BoolList: {
      c10::List<bool> v;
      for (double d : a.nums) v.push_back(d != 0);
      return IValue(v);
    }
    case K::TensorList: {
      c10::List<at::Tensor> v;
      for (const at::Tensor& t : a.tensors) v.push_back(t);
      return IValue(v);
    }
    case K::OptTensorList: {
      c10::List<c10::optional<at::Tensor>> v;
      for (const at::Tensor& t : a.tensors) v.push_back(t.defined() ? c10::optional<at::Tensor>(t) : c10::nullopt);
      return IValue(v);
    }
    case K::NoneOnly:
    case K::Unsupported: break;
  }
  throw ArgError("cannot pass " + p.camel + " (" + p.type + ")");
}

// ---- results ----

napi_value WrapTensorObject(napi_env env, at::Tensor t) {
  if (!t.defined()) {
    napi_value n;
    napi_get_null(env, &n);
    return n;
  }
  Registry& r = Reg();
  napi_value fn, global, h, res;
  Check(env, napi_get_reference_value(env, r.wrapFn, &fn));
  Check(env, napi_get_global(env, &global));
  h = Wrap(env, std::move(t));
  Check(env, napi_call_function(env, global, fn, 1, &h, &res));
  return res;
}

napi_value ToJs(napi_env env, const IValue& v, bool dtype, int depth = 0) {
  if (depth > 8) throw std::runtime_error("result nested too deeply");
  napi_value r;
  if (v.isNone()) {
    napi_get_null(env, &r);
    return r;
  }
  if (v.isTensor()) return WrapTensorObject(env, v.toTensor());
  if (v.isInt()) {
    int64_t i = v.toInt();
    if (dtype) return MakeString(env, DtypeName(static_cast<at::ScalarType>(i)));
    if (i > 9007199254740991LL || i < -9007199254740991LL) {
      Check(env, napi_create_bigint_int64(env, i, &r));
      return r;
    }
    return MakeNumber(env, static_cast<double>(i));
  }
  if (v.isSymInt()) return MakeNumber(env, static_cast<double>(v.toSymInt().expect_int()));  // sym_size on 2.x
  if (v.isDouble()) return MakeNumber(env, v.toDouble());
  if (v.isBool()) return MakeBool(env, v.toBool());
  if (v.isString()) return MakeString(env, v.toStringRef());
  if (v.isScalar()) {
    at::Scalar s = v.toScalar();
    if (s.isBoolean()) return MakeBool(env, s.toBool());
    return MakeNumber(env, s.toDouble());
  }
  if (v.isDevice()) return MakeString(env, v.toDevice().str());
  if (v.isTuple() || v.isList()) {
    c10::ArrayRef<IValue> elems = v.isTuple() ? v.toTupleRef().elements().asArrayRef() : v.toListRef();
    Check(env, napi_create_array_with_length(env, elems.size(), &r));
    for (size_t i = 0; i < elems.size(); i++)
      Check(env, napi_set_element(env, r, i, ToJs(env, elems[i], false, depth + 1)));
    return r;
  }
  throw std::runtime_error("returned a " + v.tagKind() + ", which nodetorch cannot convert");
}

std::string Signature(const Overload& o, bool method) {
  std::string s = "(";
  bool star = false;
  for (size_t k = method ? 1 : 0, n = 0; k < o.params.size(); k++, n++) {
    const Param& p = o.params[k];
    if (p.kwargOnly && !star) {
      s += n ? ", {" : "{";
      star = true;
    } else if (n) {
      s += ", ";
    }
    s += p.camel + ": " + p.type;
    if (p.hasDefault) {
      std::ostringstream d;
      d << p.dflt;
      s += " = " + d.str();
    }
  }
  return s + (star ? "})" : ")");
}

// aten_call(id, self, args, nargs, options): self is the Tensor a method was called on (undefined
// for functions); args[0..nargs) the positional arguments; options the trailing keyword object.
napi_value CallImpl(napi_env env, napi_callback_info info, Call& c) {
  size_t argc = 5;
  napi_value argv[5];
  Check(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 5) throw ArgError("aten_call: expected 5 arguments");
  int32_t id = -1;
  if (TypeOf(env, argv[0]) != napi_number) throw ArgError("aten_call: expected an operator id");
  Check(env, napi_get_value_int32(env, argv[0], &id));
  Registry& r = Reg();
  if (id < 0 || static_cast<size_t>(id) >= r.ops.size()) throw ArgError("aten_call: unknown operator id");
  const OpEntry& e = r.ops[static_cast<size_t>(id)];
  c.op = e.camel;
  c.method = TypeOf(env, argv[1]) != napi_undefined;
  uint32_t nargs = 0, length = 0;
  bool isArray = false;
  Check(env, napi_is_array(env, argv[2], &isArray));
  if (!isArray || TypeOf(env, argv[3]) != napi_number) throw ArgError("aten_call: expected an array and a count");
  Check(env, napi_get_value_uint32(env, argv[3], &nargs));
  Check(env, napi_get_array_length(env, argv[2], &length));
  if (nargs > length || nargs > 64) throw ArgError("aten_call: expected at most 64 arguments");
  c.pos.resize(nargs + (c.method ? 1 : 0));
  size_t k = 0;
  if (c.method) Classify(env, argv[1], c.pos[k++], Where{"self"});
  for (uint32_t i = 0; i < nargs; i++, k++) {
    napi_value v;
    Check(env, napi_get_element(env, argv[2], i, &v));
    Classify(env, v, c.pos[k], Where{"argument ", static_cast<int64_t>(i) + 1});
  }
  napi_valuetype kt = TypeOf(env, argv[4]);
  if (kt == napi_object) {
    napi_value keys;
    Check(env, napi_get_property_names(env, argv[4], &keys));
    uint32_t nk = 0;
    Check(env, napi_get_array_length(env, keys, &nk));
    c.kw.resize(nk);
    for (uint32_t i = 0; i < nk; i++) {
      napi_value key, v;
      Check(env, napi_get_element(env, keys, i, &key));
      c.kw[i].first = ReadString(env, key);
      Check(env, napi_get_property(env, argv[4], key, &v));
      Classify(env, v, c.kw[i].second, Where{"option ", -1, &c.kw[i].first});
    }
  }

  // Overload resolution: exact fits first; numbers stand in for tensors only when nothing else fits.
  const Overload* best = nullptr;
  int bestCost = -1;
  std::vector<const JsArg*> slots, bestSlots;
  JsArg varargs, bestVarargs;
  std::vector<Miss> misses(e.overloads.size());
  for (int pass = 0; pass < 2 && !best; pass++) {
    for (size_t i = 0; i < e.overloads.size(); i++) {
      const Overload& o = e.overloads[i];
      int cost = Bind(o, c, pass == 1, slots, varargs, &misses[i]);
      if (cost >= 0 && (!best || cost < bestCost)) {
        best = &o;
        bestCost = cost;
        bestSlots = slots;
        bestVarargs = varargs;
        for (const JsArg*& s : bestSlots)
          if (s == &varargs) s = &bestVarargs;
      }
    }
  }
  if (!best) {
    std::string msg;
    size_t callable = 0, only = 0;
    for (size_t i = 0; i < e.overloads.size(); i++)
      if (e.overloads[i].why.empty()) callable++, only = i;
    if (callable <= 1) {
      msg = c.op + ": " + Explain(env, e.overloads[only], c, misses[only]) + "; " + c.op +
            Signature(e.overloads[only], c.method);
    } else {
      msg = c.op + ": no overload fits these arguments:";
      for (size_t i = 0; i < e.overloads.size(); i++) {
        if (!e.overloads[i].why.empty()) continue;
        msg += "\n  " + c.op + Signature(e.overloads[i], c.method) + ": " + Explain(env, e.overloads[i], c, misses[i]);
      }
    }
    throw ArgError(msg);
  }

  torch::jit::Stack stack;
  stack.reserve(best->params.size());
  for (size_t i = 0; i < best->params.size(); i++) {
    const Param& p = best->params[i];
    const JsArg* a = bestSlots[i];
    stack.push_back(a ? Convert(env, *a, p, c.op) : p.hasDefault ? p.dflt : IValue());
  }
  best->op.callBoxed(&stack);

  if (best->aliasParam >= 0 && bestSlots[static_cast<size_t>(best->aliasParam)] &&
      bestSlots[static_cast<size_t>(best->aliasParam)]->t == JsArg::Tensor)
    return bestSlots[static_cast<size_t>(best->aliasParam)]->v;
  if (stack.size() == 1 && stack[0].isTensor() && stack[0].toTensor().defined())
    return Wrap(env, std::move(stack[0]).toTensor());
  // Everything else comes boxed: [value] or, for named tuples, [values, names].
  napi_value box, value;
  bool named = stack.size() > 1;
  for (const Ret& rt : best->rets) named = named && !rt.name.empty();
  Check(env, napi_create_array_with_length(env, named ? 2 : 1, &box));
  if (stack.size() == 1) {
    value = ToJs(env, stack[0], best->rets.size() == 1 && best->rets[0].dtype);
  } else if (stack.empty()) {
    napi_get_undefined(env, &value);
  } else {
    Check(env, napi_create_array_with_length(env, stack.size(), &value));
    for (size_t i = 0; i < stack.size(); i++) {
      bool dt = i < best->rets.size() && best->rets[i].dtype;
      Check(env, napi_set_element(env, value, i, ToJs(env, stack[i], dt)));
    }
  }
  Check(env, napi_set_element(env, box, 0, value));
  if (named) {
    napi_value names;
    Check(env, napi_create_array_with_length(env, best->rets.size(), &names));
    for (size_t i = 0; i < best->rets.size(); i++)
      Check(env, napi_set_element(env, names, i, MakeString(env, best->rets[i].name)));
    Check(env, napi_set_element(env, box, 1, names));
  }
  return box;
}

std::string DescribeCall(napi_env env, const Call& c) {
  std::string s;
  for (const JsArg& a : c.pos) {
    if (!s.empty()) s += ", ";
    if (a.t == JsArg::Tensor)
      s += TensorDesc(a.tensor);
    else if (a.t == JsArg::Missing || !a.v)
      s += "undefined";
    else
      s += DescribeValue(env, a.v);
  }
  for (const auto& kv : c.kw) {
    if (!s.empty()) s += ", ";
    s += kv.first + "=" +
         (kv.second.t == JsArg::Tensor ? TensorDesc(kv.second.tensor)
          : kv.second.v                ? DescribeValue(env, kv.second.v)
                                       : "undefined");
  }
  return c.op + "(" + s + ")";
}

napi_value ThrowJs(napi_env env, const char* kind, const std::string& op, const std::string& text) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return nullptr;
  napi_value msg, err, opv;
  napi_create_string_utf8(env, text.c_str(), text.size(), &msg);
  if (std::string(kind) == "TypeError")
    napi_create_type_error(env, nullptr, msg, &err);
  else if (std::string(kind) == "RangeError")
    napi_create_range_error(env, nullptr, msg, &err);
  else
    napi_create_error(env, nullptr, msg, &err);
  napi_create_string_utf8(env, op.c_str(), op.size(), &opv);
  napi_set_named_property(env, err, "op", opv);
  napi_throw(env, err);
  return nullptr;
}

std::string TrimMsg(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Errors name the op as the user called it (camelCase) and the arguments they passed.
napi_value AtenCall(napi_env env, napi_callback_info info) {
  Call c;
  try {
    return CallImpl(env, info, c);
  } catch (const PendingJsError&) {
    return nullptr;
  } catch (const ArgError& e) {
    std::string w = e.what();
    return ThrowJs(env, "TypeError", c.op, w.rfind(c.op, 0) == 0 ? w : c.op + ": " + w);
  } catch (const c10::Error& e) {
    return ThrowJs(env, "Error", c.op, DescribeCall(env, c) + ": " + TrimMsg(e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return ThrowJs(env, "RangeError", c.op, c.op + ": out of memory while allocating the result");
  } catch (const std::exception& e) {
    return ThrowJs(env, "Error", c.op, DescribeCall(env, c) + ": " + e.what());
  }
}

// aten_init(Tensor, wrap, dtypeCode): the JS pieces the caller needs (per thread; a later call replaces them).
napi_value Init(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Registry& r = Reg();
  napi_ref* refs[3] = {&r.tensorClass, &r.wrapFn, &r.dtypeFn};
  for (size_t i = 0; i < 3; i++) {
    if (a.Type(i) != napi_function) throw ArgError("aten_init: expected functions");
    if (*refs[i]) napi_delete_reference(env, *refs[i]);
    Check(env, napi_create_reference(env, a[i], 1, refs[i]));
  }
  return Undefined(env);
}

// aten_op(name) -> id for aten_call, or -1 when the running libtorch has no aten::name.
napi_value Op(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return MakeNumber(env, Lookup(a.String(0, "name")));
}

// aten_schemas() -> JSON of every aten operator the running libtorch has, for scripts/gen-aten.js
// and the conformance test: [{ name, overloads: [{ overload, schema, why, params, returns }] }].
std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\')
      o += '\\', o += ch;
    else if (ch == '\n')
      o += "\\n";
    else if (static_cast<unsigned char>(ch) < 0x20)
      o += ' ';
    else
      o += ch;
  }
  return o + "\"";
}

const char* KindName(K k) {
  switch (k) {
    case K::Tensor: return "Tensor";
    case K::Int: return "int";
    case K::Float: return "float";
    case K::Bool: return "bool";
    case K::Scalar: return "Scalar";
    case K::String: return "str";
    case K::ScalarType: return "ScalarType";
    case K::Layout: return "Layout";
    case K::Device: return "Device";
    case K::MemoryFormat: return "MemoryFormat";
    case K::IntList: return "int[]";
    case K::FloatList: return "float[]";
    case K::BoolList: return "bool[]";
    case K::TensorList: return "Tensor[]";
    case K::OptTensorList: return "Tensor?[]";
    case K::NoneOnly: return "None";
    case K::Unsupported: return "unsupported";
  }
  return "unsupported";
}

std::string RetKind(const c10::Argument& r) {
  c10::TypePtr t = r.real_type();
  bool opt = t->kind() == TypeKind::OptionalType;
  if (opt) t = t->castRaw<c10::OptionalType>()->getElementType();
  std::string k;
  if (t->kind() == TypeKind::ListType) {
    K leaf = LeafKind(t->castRaw<c10::ListType>()->getElementType());
    k = std::string(KindName(leaf)) + "[]";
  } else {
    k = KindName(LeafKind(t));
  }
  return opt ? k + "?" : k;
}

napi_value Schemas(napi_env env, napi_callback_info info) {
  Registry& r = Reg();
  Index(r);
  std::vector<std::string> names;
  for (const auto& kv : r.byName) names.push_back(kv.first);
  std::sort(names.begin(), names.end());
  std::string out = "[";
  bool firstOp = true;
  for (const std::string& name : names) {
    int id = Lookup(name);
    if (id < 0) continue;
    const OpEntry& e = r.ops[static_cast<size_t>(id)];
    out += std::string(firstOp ? "" : ",\n") + "{\"name\":" + JsonString(name) + ",\"overloads\":[";
    firstOp = false;
    for (size_t i = 0; i < e.overloads.size(); i++) {
      const Overload& o = e.overloads[i];
      std::ostringstream schema;
      schema << o.op.schema();
      out += std::string(i ? "," : "") + "{\"overload\":" + JsonString(o.overload) +
             ",\"schema\":" + JsonString(schema.str()) + ",\"why\":" + JsonString(o.why) + ",\"params\":[";
      for (size_t k = 0; k < o.params.size(); k++) {
        const Param& p = o.params[k];
        std::string dflt;
        if (p.hasDefault) {
          std::ostringstream d;
          d << p.dflt;
          dflt = d.str();
        }
        out += std::string(k ? "," : "") + "{\"name\":" + JsonString(p.name) + ",\"kind\":\"" + KindName(p.kind) +
               "\",\"type\":" + JsonString(p.type) + ",\"optional\":" + (p.optional ? "true" : "false") +
               ",\"default\":" + (p.hasDefault ? JsonString(dflt) : "null") + ",\"n\":" + std::to_string(p.n) +
               ",\"kwargOnly\":" + (p.kwargOnly ? "true" : "false") + ",\"writes\":" + (p.writes ? "true" : "false") +
               "}";
      }
      out += "],\"returns\":[";
      const auto& rets = o.op.schema().returns();
      for (size_t k = 0; k < rets.size(); k++) {
        out += std::string(k ? "," : "") + "{\"name\":" + JsonString(rets[k].name()) +
               ",\"kind\":" + JsonString(RetKind(rets[k])) + "}";
      }
      out += "],\"aliasParam\":" + std::to_string(o.aliasParam) + "}";
    }
    out += "]}";
  }
  out += "]";
  return MakeString(env, out);
}

// Hand-written bindings of three ops, the yardstick bench/aten.ts measures the generic path against.
napi_value DirectTopk(napi_env env, napi_callback_info info) {
  Args a(env, info);
  auto r = at::topk(a.Tensor(0, "input"), a.Int(1, "k"), a.IntOr(2, "dim", -1), a.BoolOr(3, "largest", true),
                    a.BoolOr(4, "sorted", true));
  return WrapList(env, {std::get<0>(r), std::get<1>(r)});
}

napi_value DirectCumsum(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, at::cumsum(a.Tensor(0, "input"), a.Int(1, "dim")));
}

napi_value DirectEinsum(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return Wrap(env, at::einsum(a.String(0, "equation"), a.TensorList(1, "operands")));
}

}  // namespace

void RegisterAten(napi_env env, napi_value exports) {
  static const Export list[] = {
      NT_EXPORT("aten_init", Init),
      NT_EXPORT("aten_op", Op),
      NT_EXPORT("aten_schemas", Schemas),
      NT_EXPORT("aten_direct_topk", DirectTopk),
      NT_EXPORT("aten_direct_cumsum", DirectCumsum),
      NT_EXPORT("aten_direct_einsum", DirectEinsum),
  };
  Register(env, exports, list, sizeof(list) / sizeof(list[0]));
  // aten_call reports errors itself, under the name of the op the user called.
  napi_value fn;
  Check(env, napi_create_function(env, "aten_call", NAPI_AUTO_LENGTH, AtenCall, nullptr, &fn));
  Check(env, napi_set_named_property(env, exports, "aten_call", fn));
}

}  // namespace nt
