// plotHistory / callbacks.HtmlReport pages loaded in real headless Chromium (skipped, saying so, where
// no chromium is installed), and plotModel's SVG parsed as XML.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as nt from '../lib';
import { modelSvg } from '../lib/utils/plot';

const { Sequential, layers, callbacks } = nt;

function findChromium(): string | null {
  const names = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter(Boolean) as string[];
  for (const n of names) {
    const r = spawnSync('sh', ['-c', `command -v "${n}"`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}
const chromium = findChromium();
if (!chromium) console.warn('plot.test.ts: chromium not found (apt-get install -y chromium, or set CHROMIUM): the headless-browser checks are skipped');
const withBrowser = chromium ? test : test.skip;

/** Loads a page in headless Chromium (bounded by a timeout); returns the DOM after load and the browser's log. */
function loadPage(file: string, screenshot?: string): { dom: string; log: string } {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--enable-logging=stderr', '--v=0', '--window-size=1200,900',
    `--user-data-dir=${fs.mkdtempSync(path.join(os.tmpdir(), 'nt-chromium-'))}`,
    ...(screenshot ? [`--screenshot=${screenshot}`] : ['--dump-dom']), `file://${file}`];
  const r = spawnSync(chromium!, args, { encoding: 'utf8', timeout: 90_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  expect(r.status).toBe(0);
  return { dom: r.stdout, log: r.stderr };
}

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
function attr(dom: string, tagRe: string, name: string): string | null {
  const m = new RegExp(`<${tagRe}[^>]*\\s${name}="([^"]*)"`).exec(dom);
  return m ? unescape(m[1]) : null;
}

/** A strict little XML reader: elements with attributes, balanced tags, nothing left over. */
interface XNode { tag: string; attrs: Record<string, string>; children: XNode[]; text: string }
function parseXml(src: string): XNode {
  const re = /<\?xml[^?]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  const root: XNode = { tag: '#doc', attrs: {}, children: [], text: '' };
  const stack = [root];
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < src.length && (m = re.exec(src))) {
    at = re.lastIndex;
    const [whole, close, tag, attrs, selfClose, text] = m;
    if (whole.startsWith('<?') || whole.startsWith('<!--')) continue;
    if (text !== undefined) {
      if (/[<>]/.test(text)) throw new Error(`bad text ${text}`);
      stack[stack.length - 1].text += unescape(text);
      continue;
    }
    if (close) {
      const top = stack.pop()!;
      if (top.tag !== tag) throw new Error(`</${tag}> closes <${top.tag}>`);
      continue;
    }
    const a: Record<string, string> = {};
    for (const am of attrs.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
      if (am[1] in a) throw new Error(`duplicate attribute ${am[1]}`);
      a[am[1]] = unescape(am[2]);
    }
    const node: XNode = { tag, attrs: a, children: [], text: '' };
    stack[stack.length - 1].children.push(node);
    if (!selfClose) stack.push(node);
  }
  if (at !== src.length) throw new Error(`unparsed XML at offset ${at}: ${src.slice(at, at + 40)}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].tag}>`);
  const elems = root.children;
  if (elems.length !== 1) throw new Error('expected one root element');
  return elems[0];
}
const all = (n: XNode, tag: string): XNode[] => [...(n.tag === tag ? [n] : []), ...n.children.flatMap((c) => all(c, tag))];

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nt-plot-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function model(): nt.Sequential {
  return new Sequential([new layers.Dense(8, { inputShape: [4], activation: 'relu', name: 'hidden' }), new layers.Dropout(0.1, { name: 'drop' }),
    new layers.Dense(2, { activation: 'softmax', name: 'probs' })]);
}

async function trained(cbs: nt.callbacks.Callback[] = []): Promise<[nt.Sequential, Awaited<ReturnType<nt.Sequential['fit']>>]> {
  nt.manualSeed(3);
  const x = nt.randn([48, 4]);
  const y = x.sum(1).gt(0).to('int64');
  const m = model();
  m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const h = await m.fit(x, y, { epochs: 4, batchSize: 8, verbose: 0, validationSplit: 0.25, callbacks: cbs });
  return [m, h];
}

function embeddedData(html: string): { epochs: number[]; charts: { title: string; datasets: { label: string; data: (number | null)[] }[] }[] } {
  const m = /<script type="application\/json" id="nt-history">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]);
}

describe('plotHistory', () => {
  test('a self-contained page: Chart.js inlined, nothing fetched, the history and the model summary embedded', async () => {
    const [m, h] = await trained();
    const file = path.join(tmp, 'sub', 'report.html');
    expect(nt.utils.plotHistory(h, file, { title: 'Run <1>' })).toBe(path.resolve(file));
    const html = fs.readFileSync(file, 'utf8');
    expect(html).toContain('Chart.js v4');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/[^"'\s]*\.(js|css)\b/);
    expect(html).toContain('<title>Run &lt;1&gt;</title>');
    expect(html).toContain(m.summary(false).split('\n')[0].replace(/"/g, '&quot;'));
    const d = embeddedData(html);
    expect(d.epochs).toEqual([1, 2, 3, 4]);
    expect(d.charts.map((c) => [c.title, c.datasets.map((s) => s.label)])).toEqual([['loss', ['train', 'validation']], ['accuracy', ['train', 'validation']]]);
    expect(d.charts[0].datasets[1].data).toEqual(h.history.val_loss);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['report.html']); // no temp file left behind
  });

  test('a plain record works; NaN becomes a gap; bad input names the argument', () => {
    const file = path.join(tmp, 'r.html');
    nt.utils.plotHistory({ loss: [1, NaN, 0.5], val_mae: [3, 2, 1], lr: [0.1, 0.1, 0.01] }, file);
    const d = embeddedData(fs.readFileSync(file, 'utf8'));
    expect(d.charts.map((c) => [c.title, c.datasets])).toEqual([
      ['loss', [{ label: 'train', data: [1, null, 0.5] }]],
      ['mae', [{ label: 'validation', data: [3, 2, 1] }]],
      ['learning rate', [{ label: 'lr', data: [0.1, 0.1, 0.01] }]],
    ]);
    expect(() => nt.utils.plotHistory(3 as never, file)).toThrow(/plotHistory: expected a History/);
    expect(() => nt.utils.plotHistory({ loss: ['a'] } as never, file)).toThrow(/history.loss to be an array of numbers/);
    expect(() => nt.utils.plotHistory({ loss: [1] }, '')).toThrow(/plotHistory: expected a file path/);
    expect(() => nt.utils.plotHistory({ loss: [1] }, file, { colour: 'red' } as never)).toThrow(/unknown option 'colour'/);
  });

  withBrowser('loads in headless Chromium with no errors; the charts hold the history\'s points', async () => {
    const [, h] = await trained();
    const file = path.join(tmp, 'report.html');
    nt.utils.plotHistory({ ...h.history, learning_rate: [0.001, 0.001, 0.0005, 0.0005] }, file);
    const { dom, log } = loadPage(file);
    expect(log).not.toMatch(/Uncaught|CONSOLE\(\d+\)].*error/i);
    expect(attr(dom, 'body', 'data-errors')).toBe('[]');
    expect(attr(dom, 'body', 'data-charts')).toBe('3');
    const points = (id: string) => JSON.parse(attr(dom, `canvas id="${id}"`, 'data-points')!);
    expect(points('chart-0')).toEqual([{ label: 'train', data: h.history.loss }, { label: 'validation', data: h.history.val_loss }]);
    expect(points('chart-1')).toEqual([{ label: 'train', data: h.history.accuracy }, { label: 'validation', data: h.history.val_accuracy }]);
    expect(points('chart-2')).toEqual([{ label: 'learning_rate', data: [0.001, 0.001, 0.0005, 0.0005] }]);
    const png = path.join(tmp, 'shot.png');
    loadPage(file, png);
    const b = fs.readFileSync(png);
    expect(b.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect([b.readUInt32BE(16), b.readUInt32BE(20)]).toEqual([1200, 900]);
  });
});

describe('callbacks.HtmlReport', () => {
  test('rewrites a whole page after every epoch, with the learning rate and the summary', async () => {
    const file = path.join(tmp, 'live.html');
    const seen: number[] = [];
    const probe = new (class extends callbacks.Callback {
      onEpochEnd(): void {
        const html = fs.readFileSync(file, 'utf8');
        expect(html.trimEnd().endsWith('</html>')).toBe(true);
        seen.push(embeddedData(html).epochs.length);
      }
    })();
    const [, h] = await trained([new callbacks.HtmlReport({ path: file, title: 'live' }), probe]);
    expect(seen).toEqual([1, 2, 3, 4]);
    const html = fs.readFileSync(file, 'utf8');
    const d = embeddedData(html);
    expect(d.charts.map((c) => c.title)).toEqual(['loss', 'accuracy', 'learning rate']);
    expect(d.charts[0].datasets[0].data).toEqual(h.history.loss);
    expect(d.charts[2].datasets[0].data).toEqual([0.001, 0.001, 0.001, 0.001]);
    expect(html).toContain('Model: &quot;sequential');
    expect(() => new callbacks.HtmlReport({} as never)).toThrow(/HtmlReport: expected path/);
    expect(() => new callbacks.HtmlReport(undefined as never)).toThrow(/HtmlReport: expected an options object/);
  });
});

describe('plotModel', () => {
  test('an SVG of boxes (name, class, shapes) joined by arrows, the same bytes each time', () => {
    const m = model();
    const file = path.join(tmp, 'model.svg');
    nt.utils.plotModel(m, file);
    const svg = fs.readFileSync(file, 'utf8');
    expect(modelSvg(m)).toBe(svg);
    const doc = parseXml(svg);
    expect(doc.tag).toBe('svg');
    expect(doc.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    const boxes = all(doc, 'g').filter((g) => g.attrs.class === 'layer');
    expect(boxes.map((g) => [g.attrs['data-name'], g.attrs['data-class'], g.attrs['data-output-shape']])).toEqual([
      ['sequential_input', 'InputLayer', '(None, 4)'], ['hidden', 'Dense', '(None, 8)'], ['drop', 'Dropout', '(None, 8)'], ['probs', 'Dense', '(None, 2)']]);
    expect(boxes.map((g) => all(g, 'text').map((t) => t.text))).toEqual([
      ['sequential_input (InputLayer)', 'input: (None, 4) | output: (None, 4)'],
      ['hidden (Dense)', 'input: (None, 4) | output: (None, 8)'],
      ['drop (Dropout)', 'input: (None, 8) | output: (None, 8)'],
      ['probs (Dense)', 'input: (None, 8) | output: (None, 2)'],
    ]);
    const edges = all(doc, 'line').map((l) => [l.attrs['data-from'], l.attrs['data-to'], l.attrs['marker-end']]);
    expect(edges).toEqual([['sequential_input', 'hidden', 'url(#arrow)'], ['hidden', 'drop', 'url(#arrow)'], ['drop', 'probs', 'url(#arrow)']]);
    // each arrow runs from the bottom of its source box to the top of its target (top-to-bottom layout)
    const rect = (name: string) => all(boxes.find((g) => g.attrs['data-name'] === name)!, 'rect')[0].attrs;
    for (const l of all(doc, 'line')) {
      const a = rect(l.attrs['data-from']);
      const b = rect(l.attrs['data-to']);
      expect(Number(l.attrs.y1)).toBeCloseTo(Number(a.y) + Number(a.height), 5);
      expect(Number(l.attrs.y2)).toBeCloseTo(Number(b.y), 5);
    }
    const r = spawnSync('/usr/bin/python3', ['-c', 'import sys, xml.etree.ElementTree as E; print(len(E.parse(sys.argv[1]).getroot()))', file], { encoding: 'utf8' });
    if (r.status === 0) expect(Number(r.stdout.trim())).toBeGreaterThan(4); // Python's XML parser (/usr/bin/python3) agrees
  });

  test('left-to-right layout, no shapes; an unbuilt model shows ?; bad input is named', () => {
    const svg = modelSvg(model(), { rankdir: 'LR', showShapes: false });
    const doc = parseXml(svg);
    expect(all(doc, 'text').map((t) => t.text)).toEqual(['sequential_input (InputLayer)', 'hidden (Dense)', 'drop (Dropout)', 'probs (Dense)']);
    const ys = new Set(all(doc, 'rect').slice(1).map((r) => r.attrs.y));
    expect(ys.size).toBe(1);
    const unbuilt = new Sequential([new layers.Dense(3, { name: 'd' })]);
    const boxes = all(parseXml(modelSvg(unbuilt)), 'g').filter((g) => g.attrs.class === 'layer');
    expect(boxes.map((g) => g.attrs['data-output-shape'])).toEqual(['?', '?']);
    expect(() => nt.utils.plotModel({} as never, path.join(tmp, 'a.svg'))).toThrow(/plotModel: expected a Keras model/);
    expect(() => nt.utils.plotModel(model(), path.join(tmp, 'a.png'))).toThrow(/ending in \.svg/);
    expect(() => modelSvg(model(), { rankdir: 'BT' } as never)).toThrow(/rankdir 'TB' or 'LR'/);
    expect(() => modelSvg(new Sequential([]))).toThrow(/has no layers/);
  });
});
