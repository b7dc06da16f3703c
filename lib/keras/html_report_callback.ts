// Keras-style callback that keeps an HTML training report (lib/utils/plot.ts) up to date: the page
// is rewritten atomically after every epoch, so a browser reload always shows a whole page.
import { typeOfValue } from '../tensor';
import { Callback, Logs } from './callbacks';
import { plotHistory } from '../utils/plot';

/** HtmlReport's options. */
export interface HtmlReportOptions {
  /** the page to (re)write, e.g. 'report.html' */
  path: string;
  /** the page's heading */
  title?: string;
}

/** `new callbacks.HtmlReport({ path: 'report.html' })`: loss/metric curves, learning rate and model summary, every epoch. */
export class HtmlReport extends Callback {
  readonly path: string;
  readonly title: string | undefined;
  /** the epochs seen so far, as History records them (plus learning_rate) */
  readonly history: Record<string, number[]> = {};
  readonly epoch: number[] = [];

  constructor(opts: HtmlReportOptions) {
    super();
    if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
      throw new TypeError(`HtmlReport: expected an options object { path } but received ${typeOfValue(opts)}`);
    }
    for (const k of Object.keys(opts)) if (k !== 'path' && k !== 'title') throw new TypeError(`HtmlReport: unknown option '${k}'; known options: path, title`);
    if (typeof opts.path !== 'string' || opts.path.length === 0) throw new TypeError(`HtmlReport: expected path to be a file path but received ${typeOfValue(opts.path)}`);
    if (opts.title !== undefined && typeof opts.title !== 'string') throw new TypeError(`HtmlReport: expected title to be a string but received ${typeOfValue(opts.title)}`);
    this.path = opts.path;
    this.title = opts.title;
  }

  /** Called once before the first epoch. */
  onTrainBegin(): void {
    for (const k of Object.keys(this.history)) delete this.history[k];
    this.epoch.length = 0;
  }

  /** Called at the end of each epoch with its logs. */
  onEpochEnd(epoch: number, logs: Logs = {}): void {
    const row: Logs = { ...logs };
    if (row.learning_rate === undefined && row.lr === undefined && typeof this.model?.getLearningRate === 'function') {
      const lr = this.model.getLearningRate();
      if (Number.isFinite(lr)) row.learning_rate = lr;
    }
    const n = this.epoch.length;
    for (const [k, v] of Object.entries(row)) {
      // a key first seen late gets NaN (a gap) for the epochs before it
      const a = (this.history[k] ??= new Array<number>(n).fill(NaN));
      a.push(v);
    }
    for (const a of Object.values(this.history)) while (a.length < n + 1) a.push(NaN);
    this.epoch.push(epoch);
    plotHistory({ history: this.history, epoch: this.epoch }, this.path, { model: this.model, ...(this.title ? { title: this.title } : {}) });
  }
}
