// Keras layers -> ONNX nodes, from each layer's public face only: its class, getConfig() and
// getWeights() in Keras layouts (Dense kernel [in, out], Conv2D kernel [kh, kw, in, out], RNN gate
// blocks in Keras order). Inputs are channels-last as in Keras; convolutions and pooling run on a
// transposed channels-first view, as the layers themselves do.
import { Tensor } from '../tensor';
import { cat } from '../ops';
import { eye as eyeOf } from '../creation';
import { noGrad } from '../autograd';
import { GraphBuilder, ExportError } from './builder';
import type { GraphNode } from '../utils/model_graph';

interface KerasLayerFace {
  name: string;
  getConfig(): Record<string, unknown>;
  getWeights(): Tensor[];
}

type Converter = (b: GraphBuilder, x: string, layer: KerasLayerFace, cfg: Record<string, unknown>, inShape: number[]) => string;

/** An activation by its Keras name (the same maths as lib/keras/layers.ts applyActivation). */
export function activation(b: GraphBuilder, x: string, name: string, where: string): string {
  switch (name) {
    case 'linear': return x;
    case 'relu': return b.op('Relu', [x]);
    case 'sigmoid': return b.op('Sigmoid', [x]);
    case 'tanh': return b.op('Tanh', [x]);
    case 'softmax': return b.op('Softmax', [x], { axis: { i: -1 } });
    case 'softplus': return b.op('Softplus', [x]);
    case 'elu': return b.op('Elu', [x], { alpha: { f: 1 } });
    case 'selu': return b.op('Selu', [x]); // ONNX's default alpha and gamma are SELU's constants
    case 'leaky_relu': return b.op('LeakyRelu', [x], { alpha: { f: 0.2 } });
    case 'swish': case 'silu': return b.op('Mul', [x, b.op('Sigmoid', [x])]);
    case 'gelu': return gelu(b, x, false);
    default: throw new ExportError(`${where}: activation '${name}' cannot be exported to ONNX`);
  }
}

/** GELU from opset-13 operators: exact (erf) or PyTorch's tanh approximation. */
export function gelu(b: GraphBuilder, x: string, tanhApprox: boolean): string {
  if (!tanhApprox) {
    const e = b.op('Erf', [b.op('Div', [x, b.floats('sqrt2', [Math.SQRT2], [])])]);
    return b.op('Mul', [b.op('Mul', [x, b.floats('half', [0.5], [])]), b.op('Add', [e, b.floats('one', [1], [])])]);
  }
  const x3 = b.op('Mul', [b.op('Mul', [x, x]), x]);
  const inner = b.op('Mul', [b.op('Add', [x, b.op('Mul', [x3, b.floats('c', [0.044715], [])])]), b.floats('k', [Math.sqrt(2 / Math.PI)], [])]);
  return b.op('Mul', [b.op('Mul', [x, b.floats('half', [0.5], [])]), b.op('Add', [b.op('Tanh', [inner]), b.floats('one', [1], [])])]);
}

const pair = (v: unknown): number[] => (Array.isArray(v) ? (v as number[]) : [v as number, v as number]);
const one = (v: unknown): number => (Array.isArray(v) ? (v as number[])[0] : (v as number));

/** Explicit pads for 'same' with stride 1 (PyTorch's split: the extra one at the end). */
function samePads(kernel: number[], dilation: number[]): number[] {
  const total = kernel.map((k, i) => dilation[i] * (k - 1));
  const begin = total.map((t) => Math.floor(t / 2));
  return [...begin, ...total.map((t, i) => t - begin[i])];
}

function weights(layer: KerasLayerFace): Tensor[] {
  return noGrad(() => layer.getWeights());
}

function withChannelsFirst(b: GraphBuilder, x: string, rank: number, f: (xc: string) => string): string {
  const toCF = rank === 3 ? [0, 3, 1, 2] : [0, 2, 1];
  const toCL = rank === 3 ? [0, 2, 3, 1] : [0, 2, 1];
  return b.transpose(f(b.transpose(x, toCF)), toCL);
}

/** Keras gate blocks (rows of W^T) in ONNX's order: LSTM i,f,c,o -> i,o,f,c; GRU z,r,h stays; SimpleRNN one block. */
function onnxGates(kind: string, t: Tensor, units: number): Tensor {
  if (kind !== 'LSTM') return t;
  const blk = (i: number) => t.narrow(0, i * units, units);
  return cat([blk(0), blk(3), blk(1), blk(2)], 0);
}

function recurrent(b: GraphBuilder, x: string, kind: string, cfg: Record<string, unknown>, ws: Tensor[], merge: string | null, where: string): string {
  const units = cfg.units as number;
  const useBias = cfg.useBias !== false;
  const dirs = merge ? 2 : 1;
  const per = useBias ? 3 : 2;
  if (ws.length !== dirs * per) throw new ExportError(`${where}: expected ${dirs * per} weights but the layer has ${ws.length}`);
  const W: Tensor[] = [];
  const R: Tensor[] = [];
  const B: Tensor[] = [];
  noGrad(() => {
    for (let d = 0; d < dirs; d++) {
      const [k, rk, bias] = ws.slice(d * per, d * per + per);
      W.push(onnxGates(kind, k.t(), units));
      R.push(onnxGates(kind, rk.t(), units));
      if (useBias) {
        // ONNX's B is [Wb, Rb]: Keras' one bias is Wb (Rb 0), except GRU's [2, 3u] = [input bias, recurrent bias]
        const wb = kind === 'GRU' ? bias.select(0, 0) : onnxGates(kind, bias, units);
        const rb = kind === 'GRU' ? bias.select(0, 1) : wb.mul(0);
        B.push(cat([wb, rb], 0));
      }
    }
  });
  const stack = (ts: Tensor[]) => noGrad(() => cat(ts.map((t) => t.unsqueeze(0)), 0));
  let seq = b.transpose(x, [1, 0, 2]); // [T, N, F]
  if (cfg.goBackwards) seq = b.reverse(seq, 0);
  const inputs = [seq, b.floats('W', stack(W)), b.floats('R', stack(R)), ...(useBias ? [b.floats('B', stack(B))] : [])];
  const attrs: Record<string, { i: number } | { s: string } | { strings: string[] }> = {
    hidden_size: { i: units }, direction: { s: merge ? 'bidirectional' : 'forward' },
  };
  if (kind === 'GRU') attrs.linear_before_reset = { i: 1 };
  if (kind === 'SimpleRNN') {
    const act = cfg.activation === 'relu' ? 'Relu' : 'Tanh';
    attrs.activations = { strings: Array(dirs).fill(act) };
  }
  const op = kind === 'SimpleRNN' ? 'RNN' : kind;
  const [Y, Yh] = b.node(op, inputs, attrs, 2);
  const combine = (t: string, axis: number, concatShape: number[]) => {
    if (!merge || merge === 'concat') return b.reshape(t, concatShape);
    const red = merge === 'sum' ? 'ReduceSum' : merge === 'mul' ? 'ReduceProd' : 'ReduceMean';
    return b.reduce(red, t, [axis], false);
  };
  if (cfg.returnSequences) {
    // Y [T, D, N, H] -> [N, T, D, H] -> [N, T, D*H] (forward then backward, as torch concatenates)
    const y = b.transpose(Y, [2, 0, 1, 3]);
    return merge ? combine(y, 2, [0, 0, -1]) : b.squeeze(y, [2]);
  }
  // Y_h [D, N, H] -> [N, D, H] -> [N, D*H]
  const h = b.transpose(Yh, [1, 0, 2]);
  return merge ? combine(h, 1, [0, -1]) : b.squeeze(h, [1]);
}

/**
 * Keras' MultiHeadAttention (lib/keras/attention.ts attend(), without masks): query, value and key
 * projected per head ([B, L, F] x [F, N*dim] -> [B, N, L, dim]), softmax(q k^T / sqrt(keyDim)) v, then
 * the output projection. A Sequential calls it as self-attention (query = value = key).
 */
function multiHeadAttention(b: GraphBuilder, q: string, v: string, k: string, layer: KerasLayerFace, cfg: Record<string, unknown>): string {
  const N = cfg.numHeads as number;
  const kd = cfg.keyDim as number;
  const vd = cfg.valueDim as number;
  const useBias = cfg.useBias !== false;
  const ws = weights(layer);
  const per = useBias ? 2 : 1;
  if (ws.length !== 4 * per) throw new ExportError(`${layer.name}: expected ${4 * per} weights but the layer has ${ws.length}`);
  const param = (i: number) => ({ kernel: ws[i * per], bias: useBias ? ws[i * per + 1] : null });
  const project = (x: string, p: { kernel: Tensor; bias: Tensor | null }, dim: number, hint: string) => {
    let y = b.op('MatMul', [x, b.floats(`${hint}_kernel`, noGrad(() => p.kernel.reshape([p.kernel.shape[0], N * dim])))]);
    if (p.bias) y = b.op('Add', [y, b.floats(`${hint}_bias`, noGrad(() => p.bias!.reshape([N * dim])))]);
    return b.transpose(b.reshape(y, [0, 0, N, dim]), [0, 2, 1, 3]);
  };
  const qh = b.op('Mul', [project(q, param(0), kd, 'query'), b.floats('scale', [1 / Math.sqrt(kd)], [])]);
  const kh = project(k, param(1), kd, 'key');
  const vh = project(v, param(2), vd, 'value');
  const probs = b.op('Softmax', [b.op('MatMul', [qh, b.transpose(kh, [0, 1, 3, 2])])], { axis: { i: -1 } });
  const ctx = b.reshape(b.transpose(b.op('MatMul', [probs, vh]), [0, 2, 1, 3]), [0, 0, N * vd]);
  const out = param(3);
  const outDims = out.kernel.shape.slice(2);
  const width = outDims.reduce((a, c) => a * c, 1);
  let y = b.op('MatMul', [ctx, b.floats('attention_output_kernel', noGrad(() => out.kernel.reshape([N * vd, width])))]);
  if (out.bias) y = b.op('Add', [y, b.floats('attention_output_bias', noGrad(() => out.bias!.reshape([width])))]);
  return outDims.length === 1 ? y : b.reshape(y, [0, 0, ...outDims]);
}

/**
 * Keras' Resizing: a separable linear map of each channel, so two constant matrices. They are read
 * off the layer itself (its call() on one-hot rows and columns, the other axis at its target size so
 * it is left alone): the exported resize is the layer's own, whatever its interpolation.
 */
function resizing(b: GraphBuilder, x: string, layer: KerasLayerFace, cfg: Record<string, unknown>, s: number[]): string {
  const H = cfg.height as number;
  const W = cfg.width as number;
  let [h, w] = s;
  let xin = x;
  if (cfg.cropToAspectRatio) {
    // Keras' crop: the largest centred window with the target's aspect ratio (as the layer computes it)
    const ch = Math.max(Math.min(h, Math.trunc((w * H) / W)), 1);
    const cw = Math.max(Math.min(w, Math.trunc((h * W) / H)), 1);
    const top = Math.trunc((h - ch) / 2);
    const left = Math.trunc((w - cw) / 2);
    xin = b.op('Slice', [x, b.ints('starts', [top, left]), b.ints('ends', [top + ch, left + cw]), b.ints('axes', [1, 2])]);
    [h, w] = [ch, cw];
  }
  const plain = new (layer.constructor as new (h: number, w: number, o: object) => KerasLayerFace & { call(t: Tensor, o: object): Tensor })(
    H, W, { interpolation: cfg.interpolation });
  const probe = (n: number, rows: boolean): Tensor => noGrad(() => {
    const eye = eyeOf(n);
    // image i: row i (or column i) set to 1, the other axis already at its target size
    const imgs = rows ? eye.reshape([n, n, 1, 1]).expand([n, n, W, 1]) : eye.reshape([n, 1, n, 1]).expand([n, H, n, 1]);
    const out = plain.call(imgs.contiguous(), { training: false });
    return (rows ? out.select(3, 0).select(2, 0) : out.select(3, 0).select(1, 0)).t().contiguous(); // [target, n]
  });
  let y = b.transpose(xin, [0, 3, 1, 2]);
  if (h !== H || cfg.cropToAspectRatio) y = b.op('MatMul', [b.floats('rows', probe(h, true)), y]);
  if (w !== W || cfg.cropToAspectRatio) y = b.op('MatMul', [y, b.floats('cols', noGrad(() => probe(w, false).t().contiguous()))]);
  return b.transpose(y, [0, 2, 3, 1]);
}

const CONVERTERS: Record<string, Converter> = {
  InputLayer: (_b, x) => x,
  Dropout: (_b, x) => x,
  // preprocessing augmentation is the identity at inference, as in predict
  RandomFlip: (_b, x) => x,
  RandomRotation: (_b, x) => x,
  RandomZoom: (_b, x) => x,
  RandomTranslation: (_b, x) => x,
  Activation: (b, x, l, cfg) => activation(b, x, cfg.activation as string, l.name),
  Dense: (b, x, l, cfg) => {
    const [k, bias] = weights(l);
    let y = b.op('MatMul', [x, b.floats('kernel', k)]);
    if (cfg.useBias !== false) y = b.op('Add', [y, b.floats('bias', bias)]);
    return activation(b, y, cfg.activation as string, l.name);
  },
  Flatten: (b, x) => b.op('Flatten', [x], { axis: { i: 1 } }),
  Reshape: (b, x, _l, cfg) => b.reshape(x, [0, ...(cfg.targetShape as number[])]),
  Rescaling: (b, x, _l, cfg) => {
    const val = (v: unknown) => (typeof v === 'number' ? [v] : (v as number[]));
    const s = val(cfg.scale);
    const o = val(cfg.offset);
    return b.op('Add', [b.op('Mul', [x, b.floats('scale', s, s.length === 1 ? [] : [s.length])]), b.floats('offset', o, o.length === 1 ? [] : [o.length])]);
  },
  Conv2D: (b, x, l, cfg) => {
    const [k, bias] = weights(l);
    const kernel = pair(cfg.kernelSize);
    const dil = pair(cfg.dilationRate);
    const pads = cfg.padding === 'same' ? samePads(kernel, dil) : [0, 0, 0, 0];
    const y = withChannelsFirst(b, x, 3, (xc) => b.op('Conv', [xc, b.floats('kernel', noGrad(() => k.permute(3, 2, 0, 1))),
      ...(cfg.useBias !== false ? [b.floats('bias', bias)] : [])],
    { kernel_shape: { ints: kernel }, strides: { ints: pair(cfg.strides) }, dilations: { ints: dil }, pads: { ints: pads } }));
    return activation(b, y, cfg.activation as string, l.name);
  },
  Conv1D: (b, x, l, cfg) => {
    const [k, bias] = weights(l);
    const kernel = [one(cfg.kernelSize)];
    const dil = [one(cfg.dilationRate)];
    const pads = cfg.padding === 'same' ? samePads(kernel, dil) : [0, 0];
    const y = withChannelsFirst(b, x, 2, (xc) => b.op('Conv', [xc, b.floats('kernel', noGrad(() => k.permute(2, 1, 0))),
      ...(cfg.useBias !== false ? [b.floats('bias', bias)] : [])],
    { kernel_shape: { ints: kernel }, strides: { ints: [one(cfg.strides)] }, dilations: { ints: dil }, pads: { ints: pads } }));
    return activation(b, y, cfg.activation as string, l.name);
  },
  MaxPooling2D: (b, x, _l, cfg) => withChannelsFirst(b, x, 3, (xc) => b.op('MaxPool', [xc], { kernel_shape: { ints: pair(cfg.poolSize) }, strides: { ints: pair(cfg.strides) } })),
  AveragePooling2D: (b, x, _l, cfg) => withChannelsFirst(b, x, 3, (xc) => b.op('AveragePool', [xc], { kernel_shape: { ints: pair(cfg.poolSize) }, strides: { ints: pair(cfg.strides) } })),
  GlobalAveragePooling2D: (b, x, _l, cfg) => b.reduce('ReduceMean', x, [1, 2], !!cfg.keepdims),
  GlobalMaxPooling2D: (b, x, _l, cfg) => b.reduce('ReduceMax', x, [1, 2], !!cfg.keepdims),
  GlobalAveragePooling1D: (b, x, _l, cfg) => b.reduce('ReduceMean', x, [1], !!cfg.keepdims),
  GlobalMaxPooling1D: (b, x, _l, cfg) => b.reduce('ReduceMax', x, [1], !!cfg.keepdims),
  BatchNormalization: (b, x, l, cfg, s) => {
    const ws = weights(l);
    const c = s[s.length - 1];
    let i = 0;
    const gamma = cfg.scale !== false ? ws[i++] : null;
    const beta = cfg.center !== false ? ws[i++] : null;
    const [mean, variance] = [ws[i++], ws[i++]];
    const bn = (xc: string) => b.op('BatchNormalization', [xc, gamma ? b.floats('gamma', gamma) : b.floats('gamma', new Array<number>(c).fill(1)),
      beta ? b.floats('beta', beta) : b.floats('beta', new Array<number>(c).fill(0)), b.floats('moving_mean', mean), b.floats('moving_variance', variance)],
    { epsilon: { f: cfg.epsilon as number } });
    return s.length === 1 ? bn(x) : withChannelsFirst(b, x, s.length, bn);
  },
  LayerNormalization: (b, x, l, cfg, s) => {
    if (b.opset < 17) throw new ExportError(`ONNX export: layer '${l.name}' (LayerNormalization) needs opset 17 or later (ONNX's LayerNormalization)`);
    const ws = weights(l);
    const c = s[s.length - 1];
    let i = 0;
    const gamma = cfg.scale !== false ? ws[i++] : null;
    const beta = cfg.center !== false ? ws[i++] : null;
    return b.op('LayerNormalization', [x, gamma ? b.floats('gamma', gamma) : b.floats('gamma', new Array<number>(c).fill(1)),
      beta ? b.floats('beta', beta) : b.floats('beta', new Array<number>(c).fill(0))], { axis: { i: -1 }, epsilon: { f: cfg.epsilon as number } });
  },
  Embedding: (b, x, l) => {
    const [w] = weights(l);
    return b.op('Gather', [b.floats('embeddings', w), b.op('Cast', [x], { to: { i: 7 } })], { axis: { i: 0 } });
  },
  SimpleRNN: (b, x, l, cfg) => recurrent(b, x, 'SimpleRNN', cfg, weights(l), null, l.name),
  LSTM: (b, x, l, cfg) => recurrent(b, x, 'LSTM', cfg, weights(l), null, l.name),
  GRU: (b, x, l, cfg) => recurrent(b, x, 'GRU', cfg, weights(l), null, l.name),
  MultiHeadAttention: (b, x, l, cfg) => multiHeadAttention(b, x, x, x, l, cfg),
  Resizing: resizing,
  Bidirectional: (b, x, l, cfg) => {
    const inner = cfg.layer as { className: string; config: Record<string, unknown> };
    return recurrent(b, x, inner.className, inner.config, weights(l), cfg.mergeMode as string, l.name);
  },
};

/**
 * Keras' merge layers (and attention with its own value/key), for a model whose graph has nodes
 * with several inputs (a Functional model's layerGraph()). Concatenate's axis counts the batch, as ONNX's does.
 */
type MergeConverter = (b: GraphBuilder, xs: string[], layer: KerasLayerFace, cfg: Record<string, unknown>, node: GraphNode) => string;

/** Keras' Dot (lib/keras/merge.ts): optional L2 normalisation, the dot axes moved last/first, a batched MatMul. */
function dot(b: GraphBuilder, xs: string[], layer: KerasLayerFace, cfg: Record<string, unknown>, node: GraphNode): string {
  const shapes = node.inputShapes;
  const axes = Array.isArray(cfg.axes) ? cfg.axes as number[] : [cfg.axes as number, cfg.axes as number];
  const [i, j] = axes.map((x, k) => (x < 0 ? shapes[k].length + 1 + x : x)); // axes counting the batch
  const n = shapes[0][i - 1];
  const out = node.outputShape ?? [];
  if (n === null || n === undefined || out.some((d) => d === null)) {
    throw new ExportError(`ONNX export: layer '${layer.name}' (Dot) needs known sizes on its dot axes and output (inputs ${JSON.stringify(shapes)})`);
  }
  const l2 = (x: string, axis: number) =>
    b.op('Div', [x, b.op('Max', [b.op('Sqrt', [b.reduce('ReduceSum', b.op('Mul', [x, x]), [axis], true)]), b.floats('eps', [1e-12], [])])]);
  const [a, c] = cfg.normalize ? [l2(xs[0], i), l2(xs[1], j)] : xs;
  const dims = (r: number) => [...Array(r).keys()];
  const am = b.reshape(b.transpose(a, [...dims(shapes[0].length + 1).filter((d) => d !== i), i]), [0, -1, n]);
  const cm = b.reshape(b.transpose(c, [0, j, ...dims(shapes[1].length + 1).filter((d) => d !== 0 && d !== j)]), [0, n, -1]);
  return b.reshape(b.op('MatMul', [am, cm]), [0, ...out]);
}

const MERGE: Record<string, MergeConverter> = {
  Add: (b, xs) => b.op('Sum', xs),
  Subtract: (b, xs) => b.op('Sub', xs),
  Multiply: (b, xs) => xs.slice(1).reduce((acc, x) => b.op('Mul', [acc, x]), xs[0]),
  Average: (b, xs) => b.op('Mean', xs),
  Maximum: (b, xs) => b.op('Max', xs),
  Minimum: (b, xs) => b.op('Min', xs),
  Concatenate: (b, xs, _l, cfg) => b.op('Concat', xs, { axis: { i: (cfg.axis as number | undefined) ?? -1 } }),
  Dot: dot,
  MultiHeadAttention: (b, xs, l, cfg) => multiHeadAttention(b, xs[0], xs[1], xs[2] ?? xs[1], l, cfg),
};

/** The Keras classes the exporter knows. */
export const EXPORTABLE_LAYERS = [...new Set([...Object.keys(CONVERTERS), ...Object.keys(MERGE)])].filter((k) => k !== 'InputLayer');

/** Adds one layer call's nodes for its input values; an unknown class is an error naming the layer. */
export function convertLayer(b: GraphBuilder, xs: string[], node: GraphNode): string {
  const layer = node.layer as unknown as KerasLayerFace;
  const single = xs.length === 1 ? CONVERTERS[node.className] : undefined;
  const merge = xs.length > 1 ? MERGE[node.className] : undefined;
  if (!single && !merge) {
    const why = xs.length > 1 && CONVERTERS[node.className] ? ` with ${xs.length} inputs` : '';
    throw new ExportError(`ONNX export: layer '${node.name}' (${node.className})${why} cannot be exported; exportable layers: ${EXPORTABLE_LAYERS.join(', ')}`);
  }
  if (!layer) return xs[0];
  b.scope = node.name;
  try {
    const cfg = layer.getConfig();
    return single ? single(b, xs[0], layer, cfg, node.inputShapes[0] ?? []) : merge!(b, xs, layer, cfg, node);
  } finally {
    b.scope = '';
  }
}
