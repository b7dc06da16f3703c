// PyTorch-like printing: tensor([[1., 2.],\n        [3., 4.]]), with its rules for integer,
// fixed (4 decimals) and scientific modes, summarisation past 1000 elements and suffixes.
import type { Tensor } from './tensor';

const THRESHOLD = 1000;
const EDGE = 3;
const LINE_WIDTH = 80;

function sciString(v: number): string {
  const [m, e] = v.toExponential(4).split('e');
  const exp = Number(e);
  return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function floatFormatter(values: number[]): (v: number) => string {
  const finite = values.filter((v) => Number.isFinite(v));
  const nz = finite.map(Math.abs).filter((v) => v !== 0);
  const special = (v: number): string | null => (Number.isNaN(v) ? 'nan' : !Number.isFinite(v) ? (v > 0 ? 'inf' : '-inf') : null);
  if (nz.length === 0) return (v) => special(v) ?? '0.';
  const max = Math.max(...nz);
  const min = Math.min(...nz);
  const intMode = finite.every((v) => Math.ceil(v) === v);
  if (intMode) {
    if (max > 1e8) return (v) => special(v) ?? sciString(v);
    return (v) => special(v) ?? `${v.toFixed(0)}.`;
  }
  if (max / min > 1000 || max > 1e8 || min < 1e-4) return (v) => special(v) ?? sciString(v);
  return (v) => special(v) ?? v.toFixed(4);
}

export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return 'Tensor(disposed)';
  const shape = t.shape;
  const dtype = t.dtype;
  const flat = t.dataSync();
  const n = flat.length;
  const summarize = n > THRESHOLD;

  // indices of the elements that will be shown
  const shownIndex = (d: number): number[] => {
    const size = shape[d];
    if (summarize && size > 2 * EDGE) return [0, 1, 2, -1, size - 3, size - 2, size - 1];
    return Array.from({ length: size }, (_, i) => i);
  };
  const strides: number[] = [];
  for (let d = shape.length - 1, s = 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  const shown: number[] = [];
  const walk = (d: number, off: number): void => {
    if (d === shape.length) {
      shown.push(off);
      return;
    }
    for (const i of shownIndex(d)) if (i >= 0) walk(d + 1, off + i * strides[d]);
  };
  if (n > 0) walk(0, 0);

  let fmt: (i: number) => string;
  if (dtype === 'bool') fmt = (i) => (flat[i] ? 'True' : 'False');
  else if (dtype === 'int64' || dtype.startsWith('int') || dtype === 'uint8') fmt = (i) => String(flat[i]);
  else {
    const f = floatFormatter(shown.map((i) => flat[i] as number));
    fmt = (i) => f(flat[i] as number);
  }
  const width = Math.max(0, ...shown.map((i) => fmt(i).length));
  const cell = (i: number): string => fmt(i).padStart(width);

  const prefix = 'tensor(';
  const render = (d: number, off: number, indent: number): string => {
    if (d === shape.length) return cell(off);
    const idx = shownIndex(d);
    if (d === shape.length - 1) {
      const parts = idx.map((i) => (i < 0 ? ' ...' : cell(off + i * strides[d])));
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / (width + 2)));
      const lines: string[] = [];
      for (let k = 0; k < parts.length; k += perLine) lines.push(parts.slice(k, k + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
    }
    const sep = `,${'\n'.repeat(shape.length - d - 1)}${' '.repeat(indent + 1)}`;
    const rows = idx.map((i) => (i < 0 ? '...' : render(d + 1, off + i * strides[d], indent + 1)));
    return `[${rows.join(sep)}]`;
  };

  let body: string;
  const suffix: string[] = [];
  if (n === 0) {
    body = '[]';
    if (shape.length !== 1) suffix.push(`size=(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`);
  } else {
    body = render(0, 0, prefix.length);
  }
  if (t.device !== 'cpu') suffix.push(`device='${t.device}'`);
  if (dtype !== 'float32' && dtype !== 'int64' && dtype !== 'bool') suffix.push(`dtype=${dtype}`);
  const gradFn = t.gradFn;
  if (gradFn) suffix.push(`grad_fn=<${gradFn}>`);
  else if (t.requiresGrad) suffix.push('requires_grad=True');
  return `${prefix}${[body, ...suffix].join(', ')})`;
}
