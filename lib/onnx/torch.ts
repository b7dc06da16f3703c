// nn modules -> ONNX nodes (channels-first, PyTorch layouts), read from each module's public fields
// and parameters; the shapes come from running the example input through the chain.
import { Tensor } from '../tensor';
import { noGrad } from '../autograd';
import { Module } from '../nn/module';
import * as nn from '../nn';
import { GraphBuilder, ExportError } from './builder';
import { gelu } from './keras';

type Conv = nn.Conv1d | nn.Conv2d;

const list = (v: number | number[], n: number): number[] => (typeof v === 'number' ? new Array<number>(n).fill(v) : [...v]);

function convPads(m: Conv, d: number): number[] {
  if (m.padding === 'valid') return new Array<number>(2 * d).fill(0);
  if (m.padding === 'same') {
    const total = m.kernelSize.map((k, i) => m.dilation[i] * (k - 1));
    const begin = total.map((t) => Math.floor(t / 2));
    return [...begin, ...total.map((t, i) => t - begin[i])];
  }
  return [...m.padding, ...m.padding];
}

/** Adds one module's nodes; `where` names it as the user sees it ('2 (ReLU)'). */
export function convertModule(b: GraphBuilder, x: string, m: Module, inShape: readonly number[], outShape: readonly number[], where: string): string {
  const param = (name: string) => (m as unknown as Record<string, Tensor | undefined>)[name];
  const cls = m.constructor.name;
  switch (cls) {
    case 'Linear': {
      const w = param('weight')!;
      const y = b.op('MatMul', [x, b.floats('weight_t', noGrad(() => w.t()))]);
      const bias = param('bias');
      return bias ? b.op('Add', [y, b.floats('bias', bias)]) : y;
    }
    case 'Conv1d': case 'Conv2d': {
      const c = m as Conv;
      const d = cls === 'Conv1d' ? 1 : 2;
      if (c.paddingMode !== 'zeros') throw new ExportError(`ONNX export: module ${where}: paddingMode '${c.paddingMode}' cannot be exported; use 'zeros'`);
      const bias = param('bias');
      return b.op('Conv', [x, b.floats('weight', param('weight')!), ...(bias ? [b.floats('bias', bias)] : [])], {
        kernel_shape: { ints: c.kernelSize }, strides: { ints: c.stride }, dilations: { ints: c.dilation }, pads: { ints: convPads(c, d) }, group: { i: c.groups },
      });
    }
    case 'MaxPool2d': case 'AvgPool2d': {
      const p = m as nn.MaxPool2d | nn.AvgPool2d;
      const pad = list(p.padding, 2);
      const attrs: Record<string, { i: number } | { ints: number[] }> = {
        kernel_shape: { ints: list(p.kernelSize, 2) }, strides: { ints: list(p.stride, 2) }, pads: { ints: [...pad, ...pad] }, ceil_mode: { i: p.ceilMode ? 1 : 0 },
      };
      if (p instanceof nn.MaxPool2d) {
        attrs.dilations = { ints: list(p.dilation, 2) };
        return b.op('MaxPool', [x], attrs);
      }
      attrs.count_include_pad = { i: (p as nn.AvgPool2d).countIncludePad ? 1 : 0 };
      return b.op('AveragePool', [x], attrs);
    }
    case 'AdaptiveAvgPool2d': {
      const o = list((m as nn.AdaptiveAvgPool2d).outputSize, 2);
      if (o[0] === 1 && o[1] === 1) return b.op('GlobalAveragePool', [x]);
      const [h, w] = inShape.slice(-2);
      if (h % o[0] === 0 && w % o[1] === 0) {
        const k = [h / o[0], w / o[1]];
        return b.op('AveragePool', [x], { kernel_shape: { ints: k }, strides: { ints: k } });
      }
      throw new ExportError(`ONNX export: module ${where}: outputSize [${o.join(', ')}] does not divide the input's ${h}x${w}; only even adaptive pooling exports`);
    }
    case 'BatchNorm1d': case 'BatchNorm2d': {
      const bn = m as nn.BatchNorm1d;
      const mean = param('running_mean');
      const variance = param('running_var');
      if (!mean || !variance) throw new ExportError(`ONNX export: module ${where}: trackRunningStats false (batch statistics at inference) cannot be exported`);
      const c = bn.numFeatures;
      const w = param('weight');
      const bias = param('bias');
      return b.op('BatchNormalization', [x, w ? b.floats('weight', w) : b.floats('weight', new Array<number>(c).fill(1)),
        bias ? b.floats('bias', bias) : b.floats('bias', new Array<number>(c).fill(0)), b.floats('running_mean', mean), b.floats('running_var', variance)],
      { epsilon: { f: bn.eps } });
    }
    case 'LayerNorm': {
      const ln = m as nn.LayerNorm;
      if (b.opset < 17) throw new ExportError(`ONNX export: module ${where} needs opset 17 or later (ONNX's LayerNormalization)`);
      const n = ln.normalizedShape.reduce((a, c) => a * c, 1);
      const w = param('weight');
      const bias = param('bias');
      return b.op('LayerNormalization', [x, w ? b.floats('weight', w) : b.floats('weight', new Array<number>(n).fill(1), ln.normalizedShape),
        bias ? b.floats('bias', bias) : b.floats('bias', new Array<number>(n).fill(0), ln.normalizedShape)],
      { axis: { i: -ln.normalizedShape.length }, epsilon: { f: ln.eps } });
    }
    case 'Dropout': return x;
    case 'Embedding': return b.op('Gather', [b.floats('weight', param('weight')!), b.op('Cast', [x], { to: { i: 7 } })], { axis: { i: 0 } });
    case 'Flatten': {
      const f = m as nn.Flatten;
      if (f.startDim === 1 && (f.endDim === -1 || f.endDim === inShape.length - 1)) return b.op('Flatten', [x], { axis: { i: 1 } });
      if (f.startDim === 0) throw new ExportError(`ONNX export: module ${where}: Flatten over the batch dimension (startDim 0) cannot keep the batch dynamic`);
      return b.reshape(x, [0, ...outShape.slice(1)]);
    }
    case 'ReLU': return b.op('Relu', [x]);
    case 'Sigmoid': return b.op('Sigmoid', [x]);
    case 'Tanh': return b.op('Tanh', [x]);
    case 'GELU': return gelu(b, x, (m as nn.GELU).approximate === 'tanh');
    case 'Softmax': return b.op('Softmax', [x], { axis: { i: (m as nn.Softmax).dim } });
    default:
      throw new ExportError(`ONNX export: module ${where} cannot be exported; exportable modules: Linear, Conv1d, Conv2d, MaxPool2d, AvgPool2d, ` +
        'AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, LayerNorm, Dropout, Embedding, Flatten, ReLU, Sigmoid, Tanh, GELU, Softmax, and Sequential of them');
  }
}

