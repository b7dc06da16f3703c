#!/usr/bin/python3
# Goldens for test/aten.test.ts: runs ATen operators on small inputs in python3-torch (the same
# libtorch as the addon) and writes test/golden/aten.json: [{ op, overload, args, kwargs, out }].
# Cases come from two places: CURATED (hand-written calls with keyword arguments, for the ops users
# reach for first) and SYNTH (one call per public operator, its required arguments made up from
# the schema's types; an operator whose made-up call fails in Python is skipped, and so is one
# whose result is random or not the same twice).
#   /usr/bin/python3 test/golden/aten.py
import json
import math
import os
import re
import sys

import torch

torch.manual_seed(0)
torch.set_num_threads(1)

# ---- encoding (the test decodes the same forms) ----


def data_of(n, dtype, salt=0):
    if dtype == torch.bool:
        return [((i + salt) % 3) == 0 for i in range(n)]
    if dtype.is_floating_point:
        return [round((((i + salt) * 0.37) % 1.0) * 0.8 + 0.1, 6) for i in range(n)]
    return [((i + salt) % 3) + 1 for i in range(n)]


def T(shape, dtype=torch.float32, data=None, salt=0):
    n = 1
    for s in shape:
        n *= s
    d = data if data is not None else data_of(n, dtype, salt)
    return torch.tensor(d, dtype=dtype).reshape(shape)


DTYPE_NAMES = {torch.float32: 'float32', torch.float64: 'float64', torch.int64: 'int64', torch.int32: 'int32',
               torch.bool: 'bool', torch.uint8: 'uint8', torch.int8: 'int8', torch.int16: 'int16',
               torch.float16: 'float16', torch.bfloat16: 'bfloat16'}


def num(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return 'nan' if math.isnan(x) else ('inf' if x > 0 else '-inf')
    return x


class Unencodable(Exception):
    pass


def enc(v):
    if isinstance(v, torch.Tensor):
        if v.dtype not in DTYPE_NAMES or v.is_sparse or v.is_quantized:
            raise Unencodable(str(v.dtype))
        flat = v.detach().reshape(-1)
        if v.dtype in (torch.float16, torch.bfloat16):
            flat = flat.float()
        return {'$t': DTYPE_NAMES[v.dtype], 'shape': list(v.shape), 'data': [num(x) for x in flat.tolist()]}
    if isinstance(v, torch.dtype):
        if v not in DTYPE_NAMES:
            raise Unencodable(str(v))
        return {'$dtype': DTYPE_NAMES[v]}
    if isinstance(v, torch.layout):
        return {'$layout': 'strided'}
    if isinstance(v, torch.memory_format):
        return {'$memory_format': str(v).replace('torch.', '')}
    if isinstance(v, torch.device):
        return {'$device': str(v)}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return num(v)
    raise Unencodable(type(v).__name__)


def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and \
            bool(torch.equal(a.nan_to_num(0.5), b.nan_to_num(0.5)) if a.dtype.is_floating_point else torch.equal(a, b))
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def clone_args(v):
    if isinstance(v, torch.Tensor):
        return v.clone()
    if isinstance(v, list):
        return [clone_args(x) for x in v]
    if isinstance(v, tuple):
        return tuple(clone_args(x) for x in v)
    if isinstance(v, dict):
        return {k: clone_args(x) for k, x in v.items()}
    return v


def run(op, overload, args, kwargs):
    # An overload name picks that overload; '' lets the packet resolve by the arguments, as nodetorch does.
    packet = getattr(torch.ops.aten, op)
    fn = getattr(packet, overload or 'default') if overload or 'default' in packet.overloads() else packet
    out1 = fn(*clone_args(args), **clone_args(kwargs))
    out2 = fn(*clone_args(args), **clone_args(kwargs))
    if not same(out1, out2):
        raise Unencodable('not deterministic')
    return out1


cases = []
covered = set()


def add(op, args, kwargs=None, overload='', note=''):
    kwargs = kwargs or {}
    out = run(op, overload, args, kwargs)
    cases.append({'op': op, 'overload': overload, 'args': enc(args), 'kwargs': {k: enc(v) for k, v in kwargs.items()}, 'out': enc(out),
                  'note': note})
    covered.add(op)


# ---- curated: the calls users write first, keyword arguments included ----

x23 = T([2, 3])
x33 = T([3, 3])
i23 = T([2, 3], torch.int64)
CURATED = [
    ('topk', [x23, 2], {'dim': 1, 'largest': False}, ''),
    ('topk', [x23, 1, 0], {}, ''),
    ('sort', [x23], {'dim': 1, 'descending': True}, ''),
    ('argsort', [x23], {'dim': 0, 'descending': True}, ''),
    ('cumsum', [x23, 1], {}, ''),
    ('cumsum', [i23], {'dim': 0}, ''),
    ('cumprod', [x23, 0], {}, ''),
    ('einsum', ['ij,jk->ik', [x23, x33]], {}, ''),
    ('einsum', ['ii->i', [x33]], {}, ''),
    ('norm', [x23], {}, ''),
    ('norm', [x23, 1], {'dim': [1], 'keepdim': True}, 'ScalarOpt_dim'),
    ('one_hot', [T([4], torch.int64, [0, 2, 1, 2])], {'num_classes': 3}, ''),
    ('repeat', [x23, [2, 1]], {}, ''),
    ('roll', [x23, 1], {'dims': 1}, ''),
    ('masked_select', [x23, x23 > 0.4], {}, ''),
    ('nonzero', [i23 - 2], {}, ''),
    ('scatter_add', [torch.zeros(2, 3), 1, T([2, 3], torch.int64, [0, 1, 2, 2, 1, 0]), x23], {}, ''),
    ('unique_dim', [T([4, 2], torch.int64, [1, 2, 1, 2, 0, 0, 3, 1]), 0], {'return_counts': True}, ''),
    ('cdist', [x23, x33.t().contiguous()[:2]], {'p': 2.0}, ''),
    ('searchsorted', [T([5], data=[0.1, 0.3, 0.5, 0.7, 0.9]), T([3], data=[0.2, 0.5, 0.95])], {'right': True},
     'Tensor'),
    ('constant_pad_nd', [x23, [1, 1]], {'value': 0.5}, ''),
    ('upsample_nearest2d', [T([1, 1, 2, 2]), [4, 4]], {}, ''),
    ('upsample_bilinear2d', [T([1, 1, 2, 2]), [3, 3], True], {}, ''),
    ('max', [x23, 1], {'keepdim': True}, 'dim'),
    ('argmax', [x23], {'dim': 1}, ''),
    ('softmax', [x23], {'dim': 1}, 'int'),
    ('log_softmax', [x23, 0], {}, 'int'),
    ('sum', [x23], {'dim': [1], 'keepdim': True}, 'dim_IntList'),
    ('mean', [x23, [0]], {}, 'dim'),
    ('std', [x23], {'dim': [1], 'unbiased': False}, 'dim'),
    ('var', [x23, [0]], {'correction': 0}, 'correction'),
    ('clamp', [x23], {'min': 0.3, 'max': 0.6}, ''),
    ('where', [x23 > 0.5, x23, T([2, 3], salt=1)], {}, 'self'),
    ('add', [x23, T([2, 3], salt=2)], {'alpha': 2}, 'Tensor'),
    ('sub', [i23, 1], {}, 'Scalar'),
    ('mul', [x23, 3], {}, 'Scalar'),
    ('pow', [x23, 2], {}, 'Tensor_Scalar'),
    ('transpose', [x23, 0, 1], {}, 'int'),
    ('permute', [T([2, 3, 2]), [2, 0, 1]], {}, ''),
    ('view', [x23, [3, 2]], {}, ''),
    ('flip', [x23, [0, 1]], {}, ''),
    ('diag', [x33], {'diagonal': 1}, ''),
    ('tril', [x33, -1], {}, ''),
    ('index_select', [x23, 1, T([2], torch.int64, [2, 0])], {}, ''),
    ('gather', [x23, 1, T([2, 2], torch.int64, [0, 2, 1, 1])], {}, ''),
    ('cat', [[x23, T([1, 3])]], {'dim': 0}, ''),
    ('stack', [[x23, x23]], {'dim': 2}, ''),
    ('split_with_sizes', [x23, [1, 2]], {'dim': 1}, ''),
    ('chunk', [x23, 3, 1], {}, ''),
    ('kthvalue', [x23, 2], {'dim': 1}, ''),
    ('mode', [i23], {'dim': 1}, ''),
    ('median', [x23, 1], {}, 'dim'),
    ('logsumexp', [x23, [1]], {}, ''),
    ('bincount', [T([5], torch.int64, [0, 1, 1, 3, 1])], {}, ''),
    ('histc', [x23], {'bins': 4, 'min': 0, 'max': 1}, ''),
    ('tensordot', [x23, x33, [1], [0]], {}, ''),
    ('kron', [x23, T([2, 2])], {}, ''),
    ('outer', [T([3]), T([2])], {}, ''),
    ('matmul', [x23, x33], {}, ''),
    ('linalg_vector_norm', [x23], {'ord': 3, 'dim': [1]}, ''),
    ('diff', [x23], {'dim': 1}, ''),
    ('cross', [x33, T([3, 3], salt=1)], {'dim': 1}, ''),
    ('triu_indices', [3, 3], {}, ''),
    ('arange', [0, 5, 2], {}, 'start_step'),
    ('full', [[2, 2], 1.5], {}, ''),
    ('linspace', [0, 1, 5], {}, ''),
    ('eye', [2, 3], {}, 'm'),
    ('zeros', [[2, 3]], {'dtype': torch.int64}, ''),
    ('ones_like', [x23], {'dtype': torch.float64}, ''),
    ('to', [x23, torch.float64], {}, 'dtype'),
    ('contiguous', [x23.t()], {'memory_format': torch.contiguous_format}, ''),
    ('layer_norm', [x23, [3]], {}, ''),
    ('group_norm', [T([1, 4, 2]), 2], {}, ''),
    ('conv2d', [T([1, 1, 3, 3]), T([1, 1, 2, 2])], {'padding': [1, 1]}, ''),
    ('max_pool2d', [T([1, 1, 4, 4]), [2, 2]], {}, ''),
    ('avg_pool1d', [T([1, 2, 4]), [2]], {}, ''),
    ('adaptive_avg_pool2d', [T([1, 1, 4, 4]), [2, 2]], {}, ''),
    ('embedding', [x33, T([2], torch.int64, [2, 0])], {}, ''),
    ('cross_entropy_loss', [x23, T([2], torch.int64, [2, 0])], {}, ''),
    ('nll_loss', [x23.log_softmax(1), T([2], torch.int64, [1, 0])], {'reduction': 0}, ''),
    ('mse_loss', [x23, T([2, 3], salt=1)], {}, ''),
    ('binary_cross_entropy_with_logits', [x23, T([2, 3], salt=1)], {}, ''),
    ('leaky_relu', [x23 - 0.5, 0.1], {}, ''),
    ('hardtanh', [x23], {'min_val': 0.2, 'max_val': 0.5}, ''),
    ('gelu', [x23], {'approximate': 'tanh'}, ''),
    ('elu', [x23 - 0.5], {'alpha': 0.5}, ''),
    ('nan_to_num', [torch.tensor([float('nan'), 1.0, float('inf')])], {'posinf': 9.0}, ''),
    ('masked_fill', [x23, x23 > 0.5, 0.25], {}, 'Scalar'),
    ('index_put', [torch.zeros(3), [T([2], torch.int64, [0, 2])], T([2], data=[1.5, 2.5])], {}, ''),
    ('index', [x33, [T([2], torch.int64, [0, 2])]], {}, 'Tensor'),
    ('add_', [T([2, 3]), 1], {}, 'Scalar'),
    ('mul_', [T([2, 3]), T([2, 3], salt=1)], {}, 'Tensor'),
    ('clamp_', [T([2, 3])], {'min': 0.5}, ''),
    ('relu_', [T([2, 3]) - 0.5], {}, ''),
]
for op, args, kwargs, overload in CURATED:
    try:
        add(op, args, kwargs, overload)
    except Exception as e:  # noqa: BLE001 - a curated case that fails here is a mistake in this file
        sys.exit(f'aten.py: curated case {op} failed: {e}')

# ---- synthesized: one call per public operator ----

SKIP = re.compile(r'rand|dropout|bernoulli|normal|multinomial|poisson|uniform|random|exponential|geometric|'
                  r'cauchy|rrelu|^empty|new_empty|^set_|resize|storage|data_ptr|^_|backward|quantize|fbgemm|'
                  r'mkldnn|cudnn|miopen|^q_|^is_|sparse|_coo|_csr|_csc|_bsr|_bsc|to_padded|nested|pin_memory|'
                  r'^record_stream|^retain_grad|^requires_grad_|^lift|^alias|detach_|^item$|^output_nr|_version|'
                  r'^align|^rename|^refine_names|^segment_reduce|^fft_|stft|istft|^native_|^_foreach|'
                  r'^can_cast|^result_type|^promote_types|^unique_consecutive|^sym_')

INDEX_NAMES = {'index', 'indices', 'target', 'targets', 'labels'}


def profiles():
    yield ('f23', lambda: T([2, 3]), [2, 3])
    yield ('f33', lambda: T([3, 3]), [3, 3])
    yield ('f3', lambda: T([3]), [3])
    yield ('i23', lambda: T([2, 3], torch.int64), [2, 3])
    yield ('b23', lambda: T([2, 3], torch.bool), [2, 3])
    yield ('f1233', lambda: T([1, 2, 3, 3]), [1, 2, 3, 3])


def synth_arg(a, make, shape, salt):
    t = str(a.type)
    n = a.name
    if t in ('Tensor', 'Tensor?'):
        if n in INDEX_NAMES:
            return torch.zeros(shape, dtype=torch.int64)
        if n == 'mask':
            return T(shape, torch.bool)
        return make() if salt == 0 else make() * 0 + T(shape, make().dtype, salt=salt)
    if 'dtype' in n and t in ('int', 'int?', 'ScalarType', 'ScalarType?'):
        return torch.float64
    if t == 'int' or t == 'int?':
        return 0 if n.startswith('dim') else 1
    if t.startswith('int[') or t.startswith('SymInt[') or t == 'int[]':
        if n in ('size', 'sizes', 'shape'):
            return list(shape)
        return [0] if 'dim' in n else [1]
    if t in ('float', 'float?'):
        return 0.5
    if t in ('Scalar', 'Scalar?', 'number'):
        return 0.5
    if t in ('bool', 'bool?'):
        return False
    if t in ('Tensor[]', 'List[Tensor]'):
        return [make(), make()]
    if t in ('ScalarType', 'ScalarType?', 'int') and 'dtype' in n:
        return torch.float64
    raise Unencodable(t)


def synth():
    schemas = [s for s in torch._C._jit_get_all_schemas() if s.name.startswith('aten::')]
    by_name = {}
    for s in schemas:
        by_name.setdefault(s.name[6:], []).append(s)
    for name in sorted(by_name):
        if name in covered or SKIP.search(name):
            continue
        overloads = sorted(by_name[name], key=lambda s: (len(s.arguments), s.overload_name))
        done = False
        for s in overloads:
            if done:
                break
            # Only the dispatcher's operators: TorchScript's own aten:: overloads (aten::div.float) are not ATen's.
            if not torch._C._dispatch_has_kernel(s.name + ('.' + s.overload_name if s.overload_name else '')):
                continue
            if any(a.kwarg_only and a.alias_info is not None and a.alias_info.is_write for a in s.arguments):
                continue  # out= variant
            required = [a for a in s.arguments if a.default_value is None and not str(a.type).endswith('?')]
            if any(a.kwarg_only for a in required):
                continue
            for _, make, shape in profiles():
                try:
                    args = []
                    salt = 0
                    for a in s.arguments:
                        if a.default_value is not None or (str(a.type).endswith('?') and a.name not in
                                                            ('weight', 'bias') and a not in required):
                            break
                        args.append(synth_arg(a, make, shape, salt))
                        salt += 1
                    if len(args) < len(required):
                        continue
                    add(name, args, {}, s.overload_name)
                    done = True
                    break
                except (Unencodable, RuntimeError, TypeError, ValueError, IndexError, NotImplementedError):
                    continue


synth()

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'aten.json')
tmp = out + '.tmp'
with open(tmp, 'w') as f:
    json.dump({'torch': torch.__version__, 'python': sys.executable, 'cases': cases}, f, separators=(',', ':'))
    f.write('\n')
os.replace(tmp, out)
print(f'aten.py: {len(cases)} cases over {len(covered)} operators -> {out}')
