// Pictures of training for people who look rather than read: plotHistory writes one self-contained
// HTML page (Chart.js inlined, the history as JSON; nothing fetched at view time) with train vs
// validation curves, the learning rate and the model summary; plotModel draws the layer graph as SVG
// (Keras' plot_model). Files are written atomically.
import * as fs from 'fs';
import * as path from 'path';
import { typeOfValue } from '../tensor';
import { writeFileAtomicSync } from '../io/atomic';
import { modelGraph, shapeText, GraphNode } from './model_graph';

/** A History (fit's return value), its .history record, or a plain { metric: values[] } object. */
export type HistoryLike = { history: Record<string, number[]>; epoch?: number[] } | Record<string, number[]>;

/** plotHistory's options. */
export interface PlotHistoryOptions {
  /** the page's heading (default 'Training report') */
  title?: string;
  /** a model whose summary() the page shows (default: the History's model, when it has one) */
  model?: unknown;
}

function checkPath(where: string, file: unknown): string {
  if (typeof file !== 'string' || file.length === 0) throw new TypeError(`${where}: expected a file path but received ${typeOfValue(file)}`);
  return file;
}

function historyRecord(where: string, h: unknown): { series: Record<string, number[]>; epochs: number[] } {
  const rec = h !== null && typeof h === 'object' && 'history' in h && typeof (h as { history: unknown }).history === 'object'
    ? (h as { history: Record<string, unknown> }).history : h;
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) {
    throw new TypeError(`${where}: expected a History (from fit) or an object of { metric: number[] } but received ${typeOfValue(h)}`);
  }
  const series: Record<string, number[]> = {};
  let n = 0;
  for (const [k, v] of Object.entries(rec as Record<string, unknown>)) {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number')) {
      throw new TypeError(`${where}: expected history.${k} to be an array of numbers but received ${typeOfValue(v)}`);
    }
    series[k] = v as number[];
    n = Math.max(n, v.length);
  }
  const given = (h as { epoch?: unknown }).epoch;
  const epochs = Array.isArray(given) && given.length === n && given.every((e) => typeof e === 'number')
    ? (given as number[]).map((e) => e + 1) : Array.from({ length: n }, (_, i) => i + 1);
  return { series, epochs };
}

interface Chart { id: string; title: string; datasets: { label: string; data: (number | null)[] }[] }

const LR_KEYS = ['learning_rate', 'lr'];

/** One chart per metric (train and val_ together), then the learning rate. */
function charts(series: Record<string, number[]>): Chart[] {
  const finite = (a: number[]) => a.map((v) => (Number.isFinite(v) ? v : null));
  const out: Chart[] = [];
  const seen = new Set<string>();
  const keys = Object.keys(series);
  const lr = keys.filter((k) => LR_KEYS.includes(k));
  for (const k of keys) {
    if (LR_KEYS.includes(k)) continue;
    const base = k.startsWith('val_') ? k.slice(4) : k;
    if (seen.has(base)) continue;
    seen.add(base);
    const datasets: Chart['datasets'] = [];
    if (series[base]) datasets.push({ label: 'train', data: finite(series[base]) });
    if (series[`val_${base}`]) datasets.push({ label: 'validation', data: finite(series[`val_${base}`]) });
    out.push({ id: `chart-${out.length}`, title: base, datasets });
  }
  for (const k of lr) out.push({ id: `chart-${out.length}`, title: 'learning rate', datasets: [{ label: k, data: finite(series[k]) }] });
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** JSON that cannot close the <script> element it sits in. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

let chartJs: string | null = null;
function chartLibrary(): string {
  if (chartJs === null) {
    // the package exports only its module entry points: the UMD bundle sits beside the CommonJS one
    const file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.js');
    // the bundle has no "</script"; escape it anyway so a future version cannot end the element early
    chartJs = fs.readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script');
  }
  return chartJs;
}

function summaryOf(model: unknown): string | null {
  const m = model as { summary?: (print?: boolean) => unknown } | undefined;
  if (!m || typeof m.summary !== 'function') return null;
  try {
    const s = m.summary(false);
    return typeof s === 'string' ? s : null;
  } catch (e) {
    return `(no summary: ${(e as Error).message})`;
  }
}

/** The page's HTML (what plotHistory writes). */
export function historyHtml(history: HistoryLike, opts: PlotHistoryOptions = {}): string {
  const where = 'plotHistory';
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${where}: expected an options object but received ${typeOfValue(opts)}`);
  for (const k of Object.keys(opts)) if (k !== 'title' && k !== 'model') throw new TypeError(`${where}: unknown option '${k}'; known options: title, model`);
  const { series, epochs } = historyRecord(where, history);
  const title = opts.title ?? 'Training report';
  const model = opts.model ?? (history as { model?: unknown }).model;
  const summary = summaryOf(model);
  const cs = charts(series);
  const data = { epochs, charts: cs };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nodetorch">
<title>${esc(title)}</title>
<script>
// errors on this page are kept on <body data-errors> so a headless check can read them
window.__ntErrors = [];
function __ntError(m) { window.__ntErrors.push(String(m)); if (document.body) document.body.dataset.errors = JSON.stringify(window.__ntErrors); }
window.addEventListener('error', function (e) { __ntError(e.message); });
(function () { var ce = console.error; console.error = function () { __ntError(Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments); }; })();
</script>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
.sub { color: #666; margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; }
section.chart { border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
section.chart h2 { font-size: 15px; margin: 0 0 8px; }
pre { background: #f6f6f6; padding: 12px; overflow-x: auto; font-size: 12px; }
</style>
</head>
<body data-errors="[]">
<h1>${esc(title)}</h1>
<div class="sub">${epochs.length} epoch${epochs.length === 1 ? '' : 's'} &middot; written ${esc(new Date().toISOString())}</div>
<div class="grid">
${cs.map((c) => `<section class="chart"><h2>${esc(c.title)}</h2><canvas id="${c.id}" width="480" height="280"></canvas></section>`).join('\n')}
</div>
${summary !== null ? `<h2>Model</h2>\n<pre id="summary">${esc(summary)}</pre>` : ''}
<script type="application/json" id="nt-history">${scriptJson(data)}</script>
<script>
${chartLibrary()}
</script>
<script>
(function () {
  var data = JSON.parse(document.getElementById('nt-history').textContent);
  var colors = ['#1f77b4', '#ff7f0e', '#2ca02c'];
  var made = 0;
  data.charts.forEach(function (c) {
    var canvas = document.getElementById(c.id);
    var chart = new Chart(canvas, {
      type: 'line',
      data: { labels: data.epochs, datasets: c.datasets.map(function (d, i) {
        return { label: d.label, data: d.data, borderColor: colors[i % 3], backgroundColor: colors[i % 3], spanGaps: false, tension: 0, pointRadius: 3 };
      }) },
      options: { animation: false, responsive: false, scales: { x: { title: { display: true, text: 'epoch' } } } },
    });
    // what Chart.js holds, for checks and for readers of the DOM
    canvas.dataset.points = JSON.stringify(chart.data.datasets.map(function (d) { return { label: d.label, data: d.data }; }));
    made++;
  });
  document.body.dataset.charts = String(made);
  document.body.dataset.errors = JSON.stringify(window.__ntErrors);
})();
</script>
</body>
</html>
`;
}

/** nt.utils.plotHistory(history, 'report.html'): the training curves as a self-contained page; returns the path. */
export function plotHistory(history: HistoryLike, file: string, opts: PlotHistoryOptions = {}): string {
  const html = historyHtml(history, opts);
  writeFileAtomicSync(checkPath('plotHistory', file), html);
  return path.resolve(file);
}

/** plotModel's options. */
export interface PlotModelOptions {
  /** the shapes under each layer (default true) */
  showShapes?: boolean;
  /** the class beside each name (default true) */
  showLayerNames?: boolean;
  /** 'TB' (default): top to bottom; 'LR': left to right */
  rankdir?: 'TB' | 'LR';
}

/** The SVG text of a model's layer graph (what plotModel writes); the same model gives the same bytes. */
export function modelSvg(model: unknown, opts: PlotModelOptions = {}): string {
  const where = 'plotModel';
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${where}: expected an options object but received ${typeOfValue(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!['showShapes', 'showLayerNames', 'rankdir'].includes(k)) throw new TypeError(`${where}: unknown option '${k}'; known options: showShapes, showLayerNames, rankdir`);
  }
  const rankdir = opts.rankdir ?? 'TB';
  if (rankdir !== 'TB' && rankdir !== 'LR') throw new TypeError(`${where}: expected rankdir 'TB' or 'LR' but received ${typeOfValue(rankdir)}`);
  const showShapes = opts.showShapes ?? true;
  const showNames = opts.showLayerNames ?? true;
  const g = modelGraph(model, where);

  // rank = the longest path from an input; nodes of one rank side by side, in the model's order
  const byName = new Map(g.nodes.map((n) => [n.name, n]));
  const rank = new Map<string, number>();
  for (const n of g.nodes) rank.set(n.name, n.inbound.length ? Math.max(...n.inbound.map((i) => (rank.get(i) ?? 0) + 1)) : 0);
  const ranks: GraphNode[][] = [];
  for (const n of g.nodes) (ranks[rank.get(n.name)!] ??= []).push(n);

  const label = (n: GraphNode) => (showNames ? `${n.name} (${n.className})` : n.className);
  const shapes = (n: GraphNode) => {
    const inp = n.inputShapes.length ? n.inputShapes.map((s) => shapeText(s)).join(', ') : shapeText(n.outputShape);
    return `input: ${inp} | output: ${shapeText(n.outputShape)}`;
  };
  const CH = 7.2; // px per character of the 12px monospace font
  const boxW = Math.ceil(Math.max(...g.nodes.map((n) => Math.max(label(n).length, showShapes ? shapes(n).length : 0))) * CH + 24);
  const boxH = showShapes ? 48 : 30;
  const gapMain = 36;
  const gapSide = 24;
  const margin = 16;
  const widest = Math.max(...ranks.map((r) => r.length));
  const pos = new Map<string, { x: number; y: number }>();
  ranks.forEach((r, ri) => {
    r.forEach((n, i) => {
      const side = (i - (r.length - 1) / 2) + (widest - 1) / 2; // centred across the widest rank
      const main = margin + ri * ((rankdir === 'TB' ? boxH : boxW) + gapMain);
      const cross = margin + side * ((rankdir === 'TB' ? boxW : boxH) + gapSide);
      pos.set(n.name, rankdir === 'TB' ? { x: cross, y: main } : { x: main, y: cross });
    });
  });
  const width = Math.ceil(Math.max(...[...pos.values()].map((p) => p.x)) + boxW + margin);
  const height = Math.ceil(Math.max(...[...pos.values()].map((p) => p.y)) + boxH + margin);
  const f = (v: number) => String(Math.round(v * 10) / 10);

  const parts: string[] = [];
  parts.push('<?xml version="1.0" encoding="UTF-8"?>');
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="12">`);
  parts.push(`<title>${esc(g.name)}</title>`);
  parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">' +
    '<path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>');
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  for (const n of g.nodes) {
    for (const src of n.inbound) {
      const a = pos.get(src);
      const b = pos.get(n.name)!;
      if (!a || !byName.has(src)) continue;
      const [x1, y1, x2, y2] = rankdir === 'TB' ? [a.x + boxW / 2, a.y + boxH, b.x + boxW / 2, b.y] : [a.x + boxW, a.y + boxH / 2, b.x, b.y + boxH / 2];
      parts.push(`<line class="edge" data-from="${esc(src)}" data-to="${esc(n.name)}" x1="${f(x1)}" y1="${f(y1)}" x2="${f(x2)}" y2="${f(y2)}" ` +
        'stroke="#444" stroke-width="1.2" marker-end="url(#arrow)"/>');
    }
  }
  for (const n of g.nodes) {
    const p = pos.get(n.name)!;
    const fill = n.layer ? '#e8f0fe' : '#f1f3f4';
    parts.push(`<g class="layer" data-name="${esc(n.name)}" data-class="${esc(n.className)}" data-output-shape="${esc(shapeText(n.outputShape))}">`);
    parts.push(`<rect x="${f(p.x)}" y="${f(p.y)}" width="${boxW}" height="${boxH}" rx="4" fill="${fill}" stroke="#5f6368"/>`);
    parts.push(`<text x="${f(p.x + boxW / 2)}" y="${f(p.y + 19)}" text-anchor="middle" font-weight="bold">${esc(label(n))}</text>`);
    if (showShapes) parts.push(`<text x="${f(p.x + boxW / 2)}" y="${f(p.y + 38)}" text-anchor="middle" fill="#333">${esc(shapes(n))}</text>`);
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** nt.utils.plotModel(model, 'model.svg'): the layer graph as an SVG file (Keras' plot_model); returns the path. */
export function plotModel(model: unknown, file: string, opts: PlotModelOptions = {}): string {
  const svg = modelSvg(model, opts);
  const target = checkPath('plotModel', file);
  if (!/\.svg$/i.test(target)) throw new TypeError(`plotModel: only SVG is written; expected a path ending in .svg but received '${target}'`);
  writeFileAtomicSync(target, svg);
  return path.resolve(target);
}
