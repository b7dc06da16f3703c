// The only file that loads the addon. NativeBinding types every export; tensors cross the
// boundary as numeric handles (see native/handles.h).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A native tensor handle: slot index and generation packed in a double. */
export type Handle = number;
type DtypeCode = number;
type Opt<T> = T | undefined | null;
type Unary = (x: Handle) => Handle;
type Binary = (x: Handle, y: Handle) => Handle;
type BinaryScalar = (x: Handle, s: number | bigint | boolean) => Handle;
type Inplace = (x: Handle, y: Handle) => void;
type InplaceScalar = (x: Handle, s: number | bigint | boolean) => void;
type Create = (shape: number[], dtype: DtypeCode, device: Opt<string>, requiresGrad: boolean) => Handle;
type CreateLike = (x: Handle, dtype: DtypeCode, device: Opt<string>, requiresGrad: boolean) => Handle;
type Dims = Opt<number | number[]>;

type UNARY = ['neg', 'abs', 'exp', 'log', 'log1p', 'expm1', 'sqrt', 'rsqrt', 'reciprocal', 'square', 'sin', 'cos',
  'floor', 'ceil', 'round', 'sign', 'erf', 'relu', 'sigmoid', 'tanh', 'gelu', 'silu', 'logical_not', 'isnan', 't',
  'all', 'any', 'clone', 'detach', 'contiguous'];
type BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'remainder', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'maximum',
  'minimum', 'atan2', 'logical_and', 'logical_or', 'matmul', 'mm', 'bmm', 'dot'];
type SCALAR = ['add', 'sub', 'mul', 'div', 'pow', 'rpow', 'rsub', 'rdiv', 'remainder', 'eq', 'ne', 'lt', 'le', 'gt',
  'ge'];
type INPLACE = ['add', 'sub', 'mul', 'div'];

type UnaryOps = { [K in UNARY[number] as `tensor_${K}`]: Unary };
type BinaryOps = { [K in BINARY[number] as `tensor_${K}`]: Binary };
type ScalarOps = { [K in SCALAR[number] as `tensor_${K}_scalar`]: BinaryScalar };
type InplaceOps = { [K in INPLACE[number] as `tensor_${K}_`]: Inplace } & {
  [K in INPLACE[number] as `tensor_${K}_scalar_`]: InplaceScalar;
};

export interface BuildInfo {
  libtorch: string;
  libtorchRuntime: string;
  cudaBuild: boolean;
  config: string;
  /** whether libtorch's oneDNN path is used, and why (native/nn.cc ConfigureOneDnn) */
  oneDnn: string;
  /** whether TorchScript fuses CPU ops, and why (native/jit.cc ConfigureJit) */
  jitCpuFusion: string;
}

/** A native object (a torch::nn module, a torch::optim optimizer): opaque to JS, freed by the GC. */
export type NativeObject = object & { readonly __native?: never };

/** native/nn.cc: torch::nn modules and functional ops. */
export interface NnBinding {
  nn_module_create(kind: string, options: Record<string, unknown>): NativeObject;
  /** outputs; null where the module computed nothing (attention weights with needWeights false) */
  nn_module_forward(m: NativeObject, inputs: Handle[], options?: Record<string, unknown>): (Handle | null)[];
  /** flat [name, handle, name, handle, ...] with dotted names for nested libtorch submodules */
  nn_module_parameters(m: NativeObject): (string | Handle)[];
  nn_module_buffers(m: NativeObject): (string | Handle)[];
  nn_module_train(m: NativeObject, on: boolean): void;
  nn_linear(x: Handle, w: Handle, b: Opt<Handle>): Handle;
  nn_conv1d(x: Handle, w: Handle, b: Opt<Handle>, stride: number[], padding: number[] | string, dilation: number[], groups: number): Handle;
  nn_conv2d(x: Handle, w: Handle, b: Opt<Handle>, stride: number[], padding: number[] | string, dilation: number[], groups: number): Handle;
  nn_max_pool2d(x: Handle, k: number[], stride: number[], padding: number[], dilation: number[], ceilMode: boolean): Handle;
  nn_avg_pool2d(x: Handle, k: number[], stride: number[], padding: number[], ceilMode: boolean, countIncludePad: boolean): Handle;
  nn_adaptive_avg_pool2d(x: Handle, size: number[]): Handle;
  nn_dropout(x: Handle, p: number, training: boolean): Handle;
  nn_layer_norm(x: Handle, shape: number[], w: Opt<Handle>, b: Opt<Handle>, eps: number): Handle;
  nn_batch_norm(x: Handle, rm: Opt<Handle>, rv: Opt<Handle>, w: Opt<Handle>, b: Opt<Handle>, training: boolean,
    momentum: number, eps: number): Handle;
  nn_embedding(w: Handle, idx: Handle, paddingIdx: number): Handle;
  nn_cross_entropy(x: Handle, t: Handle, w: Opt<Handle>, reduction: string, ignoreIndex: number, labelSmoothing: number): Handle;
  nn_nll_loss(x: Handle, t: Handle, w: Opt<Handle>, reduction: string, ignoreIndex: number): Handle;
  nn_mse_loss(x: Handle, t: Handle, reduction: string): Handle;
  nn_l1_loss(x: Handle, t: Handle, reduction: string): Handle;
  nn_smooth_l1_loss(x: Handle, t: Handle, reduction: string, beta: number): Handle;
  nn_huber_loss(x: Handle, t: Handle, reduction: string, delta: number): Handle;
  nn_binary_cross_entropy(x: Handle, t: Handle, w: Opt<Handle>, reduction: string): Handle;
  nn_binary_cross_entropy_with_logits(x: Handle, t: Handle, w: Opt<Handle>, pw: Opt<Handle>, reduction: string): Handle;
  nn_kl_div(x: Handle, t: Handle, reduction: string, logTarget: boolean): Handle;
}

/** Optimizer options in PyTorch's snake_case names (lr, betas, weight_decay...). */
export type OptimOptionValues = Record<string, number | boolean | number[]>;
/** One parameter's optimizer state: `step` is a number, every other key a tensor handle. */
export type OptimParamState = Record<string, Handle | number>;

/** native/optim.cc: torch::optim optimizers. */
export interface OptimBinding {
  /** kind: 'SGD' | 'Adam' | 'AdamW' | 'RMSprop' | 'Adagrad'; no parameter groups until optim_add_param_group */
  optim_create(kind: string, defaults: OptimOptionValues): NativeObject;
  optim_add_param_group(opt: NativeObject, params: Handle[], options: OptimOptionValues): void;
  optim_step(opt: NativeObject): void;
  optim_zero_grad(opt: NativeObject, setToNone: boolean): void;
  optim_param_group(opt: NativeObject, groupIndex: number): OptimOptionValues;
  optim_set_group_options(opt: NativeObject, groupIndex: number, options: OptimOptionValues): void;
  /** per parameter in group order; tensors are fresh copies */
  optim_state(opt: NativeObject): (OptimParamState | null)[];
  optim_load_state(opt: NativeObject, states: (OptimParamState | null)[]): void;
  /** the total norm before clipping */
  clip_grad_norm_(params: Handle[], maxNorm: number, normType: number, errorIfNonfinite: boolean): number;
  clip_grad_value_(params: Handle[], clipValue: number): void;
  /** native/train_controls.cc: Keras 3's training controls run by every step of this optimizer */
  optim_set_controls(opt: NativeObject, controls: TrainControlValues): void;
  optim_controls_state(opt: NativeObject): { iterations: number; scale: number } | null;
  /** Keras' finalize_variable_values: the moving averages copied into the weights; true when done */
  optim_finalize_variable_values(opt: NativeObject): boolean;
  /** the loss to call backward() on: times the dynamic loss scale when one is on */
  optim_scale_loss(opt: NativeObject, loss: Handle): Handle;
  /** native/amp.cc: this thread's libtorch autocast state for a device type */
  autocast_get(deviceType: string): { enabled: boolean; dtype: string };
  autocast_set(deviceType: string, enabled: boolean, dtype: string): void;
  autocast_enter(): void;
  autocast_exit(): void;
}

/** Keras 3's optimizer controls as native/train_controls.cc reads them (0: off). */
export interface TrainControlValues {
  clipnorm?: number;
  clipvalue?: number;
  globalClipnorm?: number;
  accumulationSteps?: number;
  useEma?: boolean;
  emaMomentum?: number;
  emaOverwriteFrequency?: number;
  lossScale?: boolean;
  initialScale?: number;
  growthSteps?: number;
}

/** native/model.cc: the native training loop, on a thread the addon owns (one per JS environment). */
export interface ModelRunResult {
  loss: number; metrics: number[]; samples: number; batches: number; stopped: boolean; nonFinite: boolean;
  predictions?: Handle;
}
export interface ModelBinding {
  model_run(mode: 'train' | 'evaluate' | 'predict', steps: object[], x: Handle, y: Handle | null,
    options: Record<string, unknown>,
    progress?: (batch: number, samples: number, loss: number, metrics: number[]) => void): Promise<ModelRunResult>;
  /** the batch's mean (or sample-weighted) loss, or with perSample each sample's loss */
  model_loss(loss: string, fromLogits: boolean, output: Handle, target: Handle, sampleWeight: Handle | null, perSample?: boolean): Handle;
  model_token_create(): NativeObject;
  model_token_stop(token: NativeObject): void;
  model_token_ack(token: NativeObject, batch: number): void;
  model_token_reset(token: NativeObject): void;
  /** the shuffled order of an epoch's n samples (int64), as the native loop draws it */
  model_batch_order(n: number): Handle;
  /** Keras' metric state (update/result/reset) with the loss tracker, kept natively */
  model_metrics_create(metrics: string[]): NativeObject;
  model_metrics_reset(state: NativeObject): void;
  model_metrics_update(state: NativeObject, loss: string, fromLogits: boolean, output: Handle, target: Handle, batchLoss: number): void;
  model_metrics_result(state: NativeObject): { loss: number; metrics: number[]; samples: number };
  /** every number the state sums (float64 [lossSum, samples, ...metric sums]), for all-reducing across ranks */
  model_metrics_state(state: NativeObject): Handle;
  model_metrics_set_state(state: NativeObject, values: Handle): void;
  /** one built-in Keras layer's forward (the native loop's): [output, activity penalty?] */
  keras_step_forward(step: object, x: Handle, training: boolean): Handle[];
}

/** native/data.cc: batched image augmentation. */
export interface DataBinding {
  /**
   * Resamples images [N, H, W, C] (channels-last; uint8 or float on CPU read directly) through one
   * affine matrix per image ([N, 2, 3], pixels about the image centre, x = column, y = row,
   * output -> input point), times scale (default 1); float32 out (float64 for float64 in).
   * interpolation: 'bilinear' | 'nearest'; fillMode: 'constant' | 'nearest' | 'reflect' | 'wrap'.
   */
  data_affine_transform(images: Handle, matrices: Handle, interpolation: string, fillMode: string, cval: number, scale?: number): Handle;
  data_transform_matrices(params: Handle): Handle;
  /** the libjpeg the native decoder loaded ('' when none could be: every JPEG then fails saying what to install) */
  data_jpeg_info(): string;
  /**
   * Decodes the files at paths[i] (null: skip) that are JPEGs (by content), converted to channels (1, 3, 4)
   * and resized to height x width (interpolation: 'bilinear' default, 'nearest', 'bicubic', 'lanczos3',
   * 'mitchellcubic'), into out[i * h * w * c ...]: per path true (decoded), false (not a JPEG or skipped)
   * or what is wrong with the file.
   */
  data_decode_jpeg(paths: (string | null)[], out: Uint8Array, height: number, width: number, channels: number,
    interpolation?: string): Promise<(boolean | string)[]>;
  /** Converts and resizes one image's uint8 pixels [h, w, c (1..4)] into out [oh, ow, oc (1, 3, 4)] as data_decode_jpeg does. */
  data_resize_image(pixels: Uint8Array, height: number, width: number, channels: number, out: Uint8Array,
    outHeight: number, outWidth: number, outChannels: number, interpolation: string): void;
}

/**
 * A value crossing to or from TorchScript (lib/jit.ts): T tensor, F number (an int or a float as the
 * method's schema wants; outputs: float), I int (bigint in; number or bigint out), B bool, S string,
 * N None, A tuple or list (as the schema wants), D dict (keys, values).
 */
export type JitNode = ['T', Handle] | ['F', number] | ['I', bigint | number] | ['B', boolean] | ['S', string] | ['N'] |
  ['A', JitNode[]] | ['D', JitNode[], JitNode[]];

/** native/jit.cc: TorchScript modules. */
export interface JitBinding {
  /** file: a path checked by lib/jit.ts; device: map_location */
  jit_load(file: string, device: Opt<string>): Promise<NativeObject>;
  /** a module whose methods are TorchScript source */
  jit_compile(source: string): NativeObject;
  /** runs a method on a libuv worker thread under no-grad; outputs detached */
  jit_run(m: NativeObject, method: string, inputs: JitNode[]): Promise<JitNode>;
  /** flat [name, schema, name, schema, ...] */
  jit_methods(m: NativeObject): string[];
  /** flat [name, handle, ...]: the module's own tensors */
  jit_parameters(m: NativeObject): (string | Handle)[];
  jit_buffers(m: NativeObject): (string | Handle)[];
  /** parameters and buffers, detached */
  jit_state_dict(m: NativeObject): (string | Handle)[];
  /** refused while a jit_run on the module is in flight */
  jit_train(m: NativeObject, on: boolean): void;
  jit_is_training(m: NativeObject): boolean;
  /** device and/or floating dtype (-1: keep); refused while a jit_run is in flight */
  jit_to(m: NativeObject, device: Opt<string>, dtype: DtypeCode): void;
  /** false when already disposed */
  jit_dispose(m: NativeObject): boolean;
  /**
   * Runs fn(inputHandles) under libtorch's tracer and makes a module of the trace: fn returns the
   * output handles (marked .single for one bare tensor, else a tuple); names/tensors/buffers are
   * the parameters and buffers the module holds (dotted names make submodules).
   */
  jit_trace(fn: (inputs: Handle[]) => Handle[], inputs: Handle[], names: string[], tensors: Handle[], buffers: boolean[], training: boolean): NativeObject;
  /** the module as torch.jit.save writes it */
  jit_save(m: NativeObject): Buffer;
}

export interface NativeBinding extends UnaryOps, BinaryOps, ScalarOps, InplaceOps, NnBinding, OptimBinding,
  DataBinding, ModelBinding, JitBinding {
  tensor_from_buffer(data: ArrayBufferView | ArrayBuffer, shape: number[], dtype: DtypeCode, copy: boolean): Handle;
  tensor_data(x: Handle): ArrayBuffer;
  tensor_item(x: Handle): number | bigint | boolean;
  tensor_meta(x: Handle): [DtypeCode, string, ...number[]];
  tensor_dispose(x: Handle): boolean;
  tensor_dispose_many(xs: Handle[]): void;
  /** frees the tensor once V8 collects wrapper (native/handles.h); false when not live or already tracked */
  tensor_track(wrapper: object, h: Handle): boolean;
  /** one scan of the tracked tensors' weak references now (tests) */
  tensor_scan(): void;
  memory_stats(): { tensors: number; bytes: number };
  memory_with_alloc_limit<T>(bytes: number, fn: () => T): T;
  zeros: Create;
  ones: Create;
  empty: Create;
  rand: Create;
  randn: Create;
  full(shape: number[], value: number | bigint | boolean, dtype: DtypeCode, device: Opt<string>, rg: boolean): Handle;
  randint(low: number, high: number, shape: number[], dtype: DtypeCode, device: Opt<string>, rg: boolean): Handle;
  eye(n: number, m: number, dtype: DtypeCode, device: Opt<string>, rg: boolean): Handle;
  arange(start: number, end: number, step: number, dtype: DtypeCode, device: Opt<string>, rg: boolean): Handle;
  linspace(start: number, end: number, steps: number, dtype: DtypeCode, device: Opt<string>, rg: boolean): Handle;
  scalar_tensor(value: number | bigint | boolean, dtype: DtypeCode, device: Opt<string>, rg: boolean): Handle;
  zeros_like: CreateLike;
  ones_like: CreateLike;
  rand_like: CreateLike;
  randn_like: CreateLike;
  tensor_to(x: Handle, dtype: DtypeCode, device: Opt<string>, copy: boolean): Handle;
  tensor_is_contiguous(x: Handle): boolean;

  tensor_zero_(x: Handle): void;
  tensor_fill_(x: Handle, v: number | bigint | boolean): void;
  tensor_copy_(x: Handle, src: Handle): void;
  tensor_clamp_(x: Handle, min: Opt<number>, max: Opt<number>): void;

  tensor_sum(x: Handle, dims: Dims, keepdim: boolean, dtype: DtypeCode): Handle;
  tensor_mean(x: Handle, dims: Dims, keepdim: boolean, dtype: DtypeCode): Handle;
  tensor_prod(x: Handle, dim: Opt<number>, keepdim: boolean): Handle;
  tensor_var(x: Handle, dims: Dims, unbiased: boolean, keepdim: boolean): Handle;
  tensor_std(x: Handle, dims: Dims, unbiased: boolean, keepdim: boolean): Handle;
  tensor_max: Unary;
  tensor_min: Unary;
  tensor_max_dim(x: Handle, dim: number, keepdim: boolean): [Handle, Handle];
  tensor_min_dim(x: Handle, dim: number, keepdim: boolean): [Handle, Handle];
  tensor_argmax(x: Handle, dim: Opt<number>, keepdim: boolean): Handle;
  tensor_argmin(x: Handle, dim: Opt<number>, keepdim: boolean): Handle;
  tensor_softmax(x: Handle, dim: number, dtype: DtypeCode): Handle;
  tensor_log_softmax(x: Handle, dim: number, dtype: DtypeCode): Handle;

  tensor_reshape(x: Handle, shape: number[]): Handle;
  tensor_view(x: Handle, shape: number[]): Handle;
  tensor_expand(x: Handle, shape: number[]): Handle;
  tensor_repeat(x: Handle, repeats: number[]): Handle;
  tensor_flatten(x: Handle, startDim: number, endDim: number): Handle;
  tensor_squeeze(x: Handle, dim: Opt<number>): Handle;
  tensor_unsqueeze(x: Handle, dim: number): Handle;
  tensor_permute(x: Handle, dims: number[]): Handle;
  tensor_transpose(x: Handle, d0: number, d1: number): Handle;
  tensor_flip(x: Handle, dims: number[]): Handle;
  tensor_tril(x: Handle, diagonal: number): Handle;
  tensor_triu(x: Handle, diagonal: number): Handle;
  cat(xs: Handle[], dim: number): Handle;
  stack(xs: Handle[], dim: number): Handle;
  tensor_split(x: Handle, sizeOrSizes: number | number[], dim: number): Handle[];
  tensor_chunk(x: Handle, chunks: number, dim: number): Handle[];
  tensor_select(x: Handle, dim: number, index: number): Handle;
  tensor_slice(x: Handle, dim: number, start: Opt<number>, end: Opt<number>, step: number): Handle;
  tensor_narrow(x: Handle, dim: number, start: number, length: number): Handle;
  tensor_gather(x: Handle, dim: number, index: Handle): Handle;
  tensor_index_select(x: Handle, dim: number, index: Handle): Handle;
  tensor_masked_fill(x: Handle, mask: Handle, value: number | bigint | boolean): Handle;
  tensor_masked_fill_tensor(x: Handle, mask: Handle, value: Handle): Handle;
  where(cond: Handle, x: Handle, y: Handle): Handle;
  tensor_clamp(x: Handle, min: Opt<number>, max: Opt<number>): Handle;

  tensor_backward(x: Handle, grad: Opt<Handle>, retainGraph: Opt<boolean>, createGraph: boolean): void;
  autograd_grad(outputs: Handle[], inputs: Handle[], gradOutputs: Opt<Handle[]>, retainGraph: Opt<boolean>,
    createGraph: boolean, allowUnused: boolean): (Handle | null)[];
  tensor_grad(x: Handle): Handle | null;
  tensor_set_grad(x: Handle, g: Handle | null): void;
  tensor_set_data(x: Handle, data: Handle): void;
  tensor_requires_grad(x: Handle): boolean;
  tensor_requires_grad_(x: Handle, flag: boolean): void;
  tensor_zero_grad_(x: Handle): void;
  tensor_retain_grad(x: Handle): void;
  tensor_is_leaf(x: Handle): boolean;
  tensor_grad_fn(x: Handle): string | null;
  set_grad_enabled(enabled: boolean): boolean;
  is_grad_enabled(): boolean;

  cuda_is_available(): boolean;
  cuda_device_count(): number;
  cudnn_is_available(): boolean;
  set_num_threads(n: number): void;
  get_num_threads(): number;
  manual_seed(seed: number | bigint): void;
  build_info(): BuildInfo;
}

// aten: the generic ATen caller (native/aten.cc)
/**
 * aten_call's result: a fresh tensor handle (the usual single-Tensor result), the caller's own Tensor
 * object (in-place ops), or a box: [value] or, for named tuples, [values, names].
 */
export type AtenResult = Handle | object | [unknown] | [unknown[], string[]];
export interface AtenBinding {
  /** the Tensor class, lib/tensor's wrap(handle) and a dtype parser (name, op) -> code */
  aten_init(tensorClass: abstract new (...args: never[]) => unknown, wrap: (h: Handle) => unknown, dtypeCode: (name: unknown, op: string) => number): void;
  /** the id of aten::name for aten_call, or -1 when the running libtorch has no such operator */
  aten_op(name: string): number;
  /** self: the Tensor a method was called on (undefined for a function); options: the keyword arguments */
  aten_call(id: number, self: unknown, args: unknown[], nargs: number, options: object | undefined): AtenResult;
  /** JSON: every aten operator of the running libtorch, its overloads and how nodetorch passes each argument */
  aten_schemas(): string;
  aten_direct_topk(x: Handle, k: number, dim: number, largest: boolean, sorted: boolean): [Handle, Handle];
  aten_direct_cumsum(x: Handle, dim: number): Handle;
  aten_direct_einsum(equation: string, operands: Handle[]): Handle;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NativeBinding extends AtenBinding {}

/** What `build/Release/nodetorch-build.json` records about the binary. */
export interface BuildRecord {
  builtBy: string;
  builtAt: string;
  libtorch: { source: string; version: string | null; libDir: string; cuda: boolean };
}

/**
 * The package's folder: the nearest one above this file whose package.json is nodetorch's (lib/ and
 * dist/ sit right below it; compiled benchmarks and tests sit deeper).
 */
export const packageRoot = ((): string => {
  for (let dir = path.resolve(__dirname, '..'); ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'nodetorch') return dir;
    } catch {
      // no package.json here: keep looking
    }
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
})();

/** The record written beside a binary when it was built (prebuilds: <name>.json). */
export function readBuildRecord(binary = loadedFrom): BuildRecord | null {
  const files = [binary && binary.replace(/\.node$/, '.json'), path.join(packageRoot, 'build/Release/nodetorch-build.json')];
  for (const f of files) {
    try {
      if (f) return JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch {
      // try the next
    }
  }
  return null;
}

interface NodeGypBuild {
  parseTags(file: string): object | undefined;
  matchTags(runtime: string, abi: string): (tags: object | undefined) => boolean;
}

interface LibtorchInfo { version: string | null; cuda: boolean; source: string }

interface Discovery {
  discover(): LibtorchInfo | null;
  libtorchTag(info: LibtorchInfo): string;
}

/** scripts/libtorch.js, loaded only when no local build exists (not on the usual start-up path). */
function discovery(): Discovery {
  return require(path.join(packageRoot, 'scripts/libtorch.js')) as Discovery;
}

function findLibtorch(): LibtorchInfo | null {
  try {
    return discovery().discover();
  } catch {
    return null;
  }
}

/** prebuilds/<platform>-<arch>/nodetorch.glibc.libtorch2_6.cpu.node -> 'libtorch2_6.cpu' */
function prebuildTag(file: string): string | null {
  const m = file.match(/\.(libtorch\d+_\d+\.(?:cpu|cuda))\.node$/);
  return m ? m[1] : null;
}

function fixes(): string {
  return 'Fixes: build from source with `npx nodetorch build` (needs libtorch, a C++ compiler and cmake); or allow ' +
    'the install step with `npm install-scripts approve nodetorch` and reinstall; or point LIBTORCH=/path/to/libtorch ' +
    "(or LIBTORCH_USE_PYTORCH=1) at a libtorch a prebuilt binary was made for. Debian/Ubuntu: apt-get install libtorch-dev.";
}

/**
 * The binaries to try, best first: a local build (made for this machine), then the prebuilt
 * binary whose libtorch tag matches the libtorch found here.
 */
function candidates(): { files: string[]; why: string } {
  const local = path.join(packageRoot, 'build/Release/nodetorch.node');
  if (fs.existsSync(local)) return { files: [local], why: 'local build (build/Release is loaded before any prebuilt binary)' };
  // node-gyp-build's own tag rules (napi, libc, armv) choose among prebuilds; the libtorch
  // tag, which it does not know, is matched here.
  const ngb = require('node-gyp-build') as NodeGypBuild;
  const fits = ngb.matchTags('node', process.versions.modules);
  const dir = path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`);
  const prebuilt = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => prebuildTag(f) !== null && fits(ngb.parseTags(f)))
    : [];
  const found = findLibtorch();
  const shipped = prebuilt.map(prebuildTag).join(', ') || 'none';
  if (!found) {
    throw new Error(`nodetorch: no libtorch was found on this machine, so no prebuilt binary can be used ` +
      `(prebuilt for: ${shipped}).\n${fixes()}`);
  }
  const want = discovery().libtorchTag(found);
  const files = prebuilt.filter((f) => prebuildTag(f) === want).map((f) => path.join(dir, f));
  if (!files.length) {
    throw new Error(`nodetorch: no prebuilt binary fits libtorch ${found.version} (${found.cuda ? 'CUDA' : 'CPU'}) ` +
      `found via ${found.source} on ${process.platform}-${process.arch} (prebuilt for: ${shipped}).\n${fixes()}`);
  }
  return { files, why: `prebuilt for ${want}, matching libtorch ${found.version} found via ${found.source}` };
}

/** Where the loaded binary came from and why it was chosen, for `nodetorch info`. */
export let loadedFrom = '';
export let loadedWhy = '';

function load(): NativeBinding {
  const { files, why } = candidates();
  const errors: string[] = [];
  for (const file of files) {
    try {
      const binding = require(file) as NativeBinding;
      loadedFrom = file;
      loadedWhy = why;
      return binding;
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message}`);
    }
  }
  const rec = readBuildRecord();
  const built = rec ? ` (the local build was made against libtorch ${rec.libtorch.version} from ${rec.libtorch.source})` : '';
  throw new Error(`nodetorch: the native binary could not be loaded${built}:\n  ${errors.join('\n  ')}\n${fixes()}`);
}

// threads: OpenMP's wait policy is read once, when libgomp loads with the addon, so it is set here
// first. An idle OpenMP worker spins 10,000 times (~0.7 ms here) before it sleeps: back-to-back ops
// find it awake (waking a sleeping one cost ~25 us a parallel op on this project's VM), and it gives
// the core back soon after, where libgomp's default spins 300,000 times (~7 ms after every parallel
// op). On a busy machine the spin never runs: the load watch (native/threads.cc) caps every team at
// the cores other processes leave, one thread beside one busy process on 2 cores. A user's own
// OMP_WAIT_POLICY or GOMP_SPINCOUNT wins. README "Threads and load" has the measurements.
if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) {
  process.env.GOMP_SPINCOUNT = '10000';
}
/** native/threads.cc: the adaptive thread switch and the OpenMP settings in effect. */
export interface ThreadsBinding {
  /** sets the switch unless on is undefined; returns the previous setting */
  threads_adaptive(on?: boolean): boolean;
  threads_info(): {
    threads: number; current: number; waitPolicy: string; spinCount: string; adaptive: boolean; allocator: string;
    freeCores: number; otherCores: number; loadSamples: number;
  };
  /** the calling thread's intra-op threads only, until the load watch next changes them; nt.getNumThreads() stays */
  threads_set_current(n: number): void;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface NativeBinding extends ThreadsBinding {}

export const native: NativeBinding = load();

if (process.env.NODETORCH_ADAPTIVE_THREADS === '0') native.threads_adaptive(false);

// libtorch starts with one intra-op thread here; users expect all cores, as in PyTorch.
if (!process.env.OMP_NUM_THREADS) native.set_num_threads(os.availableParallelism());

// distributed: native/distributed.cc (c10d process groups, DistributedDataParallel's reducer)
export interface DistInitOptions {
  backend: string; rank: number; worldSize: number; masterAddr: string; masterPort: number; timeoutMs: number;
  /** torchrun's agent hosts the store: every rank is a client, keys under /worker/attempt_<attempt> */
  agentStore: boolean; attempt: string;
}
export interface DistributedBinding {
  dist_available(): { gloo: boolean; nccl: boolean };
  dist_init(options: DistInitOptions): Promise<NativeObject>;
  /** ranks: sorted unique global ranks; null where this rank is not a member */
  dist_new_group(ranks: number[], timeoutMs: number): Promise<NativeObject | null>;
  dist_destroy(): Promise<void>;
  dist_group_info(g: NativeObject): { rank: number; size: number; backend: string; live: boolean };
  /** op: 'sum' | 'product' | 'max' | 'min'; ranks below are ranks within the group */
  dist_all_reduce(g: NativeObject, t: Handle, op: string): Promise<void>;
  dist_broadcast(g: NativeObject, t: Handle, src: number): Promise<void>;
  dist_all_gather(g: NativeObject, t: Handle): Promise<Handle[]>;
  dist_reduce_scatter(g: NativeObject, output: Handle, inputs: Handle[], op: string): Promise<void>;
  dist_send(g: NativeObject, t: Handle, dst: number, tag: number): Promise<void>;
  /** src -1: any sender; resolves to the sender's group rank */
  dist_recv(g: NativeObject, t: Handle, src: number, tag: number): Promise<number>;
  dist_barrier(g: NativeObject): Promise<void>;
  /** torch.randperm(n, generator=torch.Generator().manual_seed(seed)), as int64 */
  dist_randperm(n: number, seed: number): Handle;
  ddp_create(g: NativeObject, params: Handle[], bucketCapBytes: number, firstBucketCapBytes: number,
    findUnusedParameters: boolean): NativeObject;
  /** returns the previous setting */
  ddp_set_sync(reducer: NativeObject, sync: boolean): boolean;
  /** blocking, coalesced broadcast from group rank src into every tensor */
  ddp_broadcast_(g: NativeObject, tensors: Handle[], src: number): void;
  ddp_info(reducer: NativeObject): { buckets: number[][]; launchedInBackward: number; launchedAtEnd: number };
}
export const distributedNative = native as unknown as DistributedBinding;
