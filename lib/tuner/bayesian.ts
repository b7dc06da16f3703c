// Bayesian optimization: a Gaussian-process surrogate (Matern 5/2 or RBF kernel on the parameters
// mapped to [0, 1], its length scale chosen by marginal likelihood) of the scores so far, and the
// next trial where the acquisition (upper confidence bound, or expected improvement) is highest,
// found among random candidates refined by a local pattern search.
import { Random } from '../data/random';
import { HPValue, HyperParameter, fromConfig, HyperParameters, valuesKey } from './hyperparameters';
import { Oracle, OracleOptions } from './oracle';

/** The Gaussian process's covariance kernel. */
export type Kernel = 'matern52' | 'rbf';
/** How the next point is picked: upper confidence bound or expected improvement. */
export type Acquisition = 'ucb' | 'ei';

export interface BayesianOracleOptions extends OracleOptions {
  numInitialPoints?: number;
  alpha?: number;
  beta?: number;
  kernel?: Kernel;
  acquisition?: Acquisition;
}

const LENGTH_SCALES = [0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 0.8, 1.3, 2];

function kernelFn(kind: Kernel, a: Float64Array, b: Float64Array, ls: number): number {
  let d2 = 0;
  for (let i = 0; i < a.length; i++) d2 += (a[i] - b[i]) ** 2;
  if (kind === 'rbf') return Math.exp(-d2 / (2 * ls * ls));
  const r = (Math.sqrt(5 * d2)) / ls;
  return (1 + r + (r * r) / 3) * Math.exp(-r);
}

/** Lower Cholesky factor of a symmetric positive definite n x n matrix (row-major); null if not positive definite. */
function cholesky(k: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = k[i * n + j];
      for (let p = 0; p < j; p++) s -= l[i * n + p] * l[j * n + p];
      if (i === j) {
        if (!(s > 0)) return null;
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  return l;
}

/** Solves L x = b (forward) in place. */
function solveLower(l: Float64Array, n: number, b: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= l[i * n + p] * b[p];
    b[i] = s / l[i * n + i];
  }
  return b;
}

/** Solves L^T x = b (backward) in place. */
function solveUpper(l: Float64Array, n: number, b: Float64Array): Float64Array {
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let p = i + 1; p < n; p++) s -= l[p * n + i] * b[p];
    b[i] = s / l[i * n + i];
  }
  return b;
}

/** A zero-mean GP on standardized targets, unit signal variance, noise alpha, one isotropic length scale. */
export class GaussianProcess {
  private l!: Float64Array;
  private weights!: Float64Array;
  private mean = 0;
  private std = 1;
  lengthScale = 0.3;
  constructor(private readonly kind: Kernel, private readonly alpha: number, private readonly xs: Float64Array[], ys: number[]) {
    const n = ys.length;
    this.mean = ys.reduce((a, b) => a + b, 0) / n;
    const v = ys.reduce((a, b) => a + (b - this.mean) ** 2, 0) / n;
    this.std = v > 0 ? Math.sqrt(v) : 1;
    const y = Float64Array.from(ys, (t) => (t - this.mean) / this.std);
    let best = -Infinity;
    for (const ls of LENGTH_SCALES) {
      const fit = this.factor(ls, y);
      if (fit && fit.logLik > best) {
        best = fit.logLik;
        this.lengthScale = ls;
        this.l = fit.l;
        this.weights = fit.w;
      }
    }
    if (!this.l) throw new Error('BayesianOptimization: the Gaussian process could not be fitted (kernel matrix not positive definite)');
  }

  private factor(ls: number, y: Float64Array): { l: Float64Array; w: Float64Array; logLik: number } | null {
    const n = y.length;
    const k = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        const v = kernelFn(this.kind, this.xs[i], this.xs[j], ls);
        k[i * n + j] = v;
        k[j * n + i] = v;
      }
      k[i * n + i] += this.alpha + 1e-9;
    }
    const l = cholesky(k, n);
    if (!l) return null;
    const w = solveUpper(l, n, solveLower(l, n, Float64Array.from(y)));
    let logDet = 0;
    for (let i = 0; i < n; i++) logDet += Math.log(l[i * n + i]);
    let fit = 0;
    for (let i = 0; i < n; i++) fit += y[i] * w[i];
    return { l, w, logLik: -0.5 * fit - logDet };
  }

  /** Posterior mean and standard deviation at x, in the targets' units. */
  predict(x: Float64Array): { mean: number; std: number } {
    const n = this.xs.length;
    const ks = new Float64Array(n);
    for (let i = 0; i < n; i++) ks[i] = kernelFn(this.kind, x, this.xs[i], this.lengthScale);
    let mu = 0;
    for (let i = 0; i < n; i++) mu += ks[i] * this.weights[i];
    const v = solveLower(this.l, n, ks);
    let q = 0;
    for (let i = 0; i < n; i++) q += v[i] * v[i];
    const variance = Math.max(1 + 1e-9 - q, 1e-12);
    return { mean: this.mean + this.std * mu, std: this.std * Math.sqrt(variance) };
  }
}

/** Standard normal pdf and cdf (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
function normPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}
function normCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** The oracle of BayesianOptimization: a Gaussian process over completed trials picks the next values. */
export class BayesianOptimizationOracle extends Oracle {
  readonly numInitialPoints: number | null;
  readonly alpha: number;
  readonly beta: number;
  readonly kernel: Kernel;
  readonly acquisition: Acquisition;
  constructor(o: BayesianOracleOptions) {
    super(o);
    this.numInitialPoints = o.numInitialPoints ?? null;
    this.alpha = o.alpha ?? 1e-4;
    this.beta = o.beta ?? 2.6;
    this.kernel = o.kernel ?? 'matern52';
    this.acquisition = o.acquisition ?? 'ucb';
  }
  get kind(): string {
    return 'BayesianOptimization';
  }

  /** The tuned parameters (Fixed ones are no dimension). */
  private dims(): HyperParameter[] {
    return this.hyperparameters.space.filter((p) => p.className !== 'Fixed');
  }

  /** A trial's values as a point of [0, 1]^d; inactive parameters sit at their default. */
  private encode(values: Record<string, HPValue>, dims: HyperParameter[]): Float64Array {
    return Float64Array.from(dims, (p) => p.toUnit(p.name in values ? values[p.name] : p.defaultValue));
  }

  /** The values at a point, for the parameters active there. */
  private decode(x: Float64Array, dims: HyperParameter[], hp: HyperParameters): Record<string, HPValue> {
    hp.values = {};
    const at = new Map(dims.map((p, i) => [p.name, i]));
    for (const p of hp.space) {
      if (!hp.isActive(p.name)) continue;
      const i = at.get(p.name);
      hp.values[p.name] = i === undefined ? p.defaultValue : p.fromUnit(x[i]);
    }
    return hp.values;
  }

  protected populateSpace(trialNumber: number): Record<string, HPValue> | null {
    const dims = this.dims();
    const scored = this.trials.filter((t) => t.status === 'COMPLETED' && t.score !== null && Number.isFinite(t.score));
    const initial = this.numInitialPoints ?? Math.max(2, 3 * dims.length);
    if (dims.length === 0 || scored.length < initial) return this.randomValues(trialNumber);
    const sign = this.objective.direction === 'max' ? 1 : -1;
    const xs = scored.map((t) => this.encode(t.hyperparameters.values, dims));
    const ys = scored.map((t) => sign * t.score!);
    const gp = new GaussianProcess(this.kernel, this.alpha, xs, ys);
    const bestY = Math.max(...ys);
    const score = (x: Float64Array): number => {
      const { mean, std } = gp.predict(x);
      if (this.acquisition === 'ucb') return mean + this.beta * std;
      const z = (mean - bestY - 0.01) / std;
      return (mean - bestY - 0.01) * normCdf(z) + std * normPdf(z);
    };
    // Each candidate is snapped to the values it decodes to, so discrete parameters are scored where they will run.
    const tmpl = new HyperParameters();
    for (const p of this.hyperparameters.space) tmpl.register(fromConfig(p.config()));
    const snap = (x: Float64Array): Float64Array => this.encode(this.decode(x, dims, tmpl), dims);
    const rng = new Random(this.seed, 1_000_003 + trialNumber);
    const d = dims.length;
    const cands: { x: Float64Array; s: number }[] = [];
    const count = 500 + 250 * d;
    for (let i = 0; i < count; i++) {
      const x = snap(Float64Array.from({ length: d }, () => rng.next()));
      cands.push({ x, s: score(x) });
    }
    cands.sort((a, b) => b.s - a.s);
    // Local refinement: a coordinate pattern search from the best few, with a shrinking step.
    const refined: { x: Float64Array; s: number }[] = [];
    for (const c of cands.slice(0, 5)) {
      let { x, s } = c;
      for (let step = 0.1; step >= 0.002; step /= 2) {
        let moved = true;
        while (moved) {
          moved = false;
          for (let i = 0; i < d; i++) {
            for (const dir of [-1, 1]) {
              const y = Float64Array.from(x);
              y[i] = Math.min(1, Math.max(0, y[i] + dir * step));
              const ys2 = snap(y);
              const sy = score(ys2);
              if (sy > s + 1e-12) {
                x = ys2;
                s = sy;
                moved = true;
              }
            }
          }
        }
      }
      refined.push({ x, s });
    }
    const all = [...refined, ...cands].sort((a, b) => b.s - a.s);
    const tried = this.triedKeys();
    for (const c of all) {
      const v = { ...this.decode(c.x, dims, tmpl) };
      if (!tried.has(valuesKey(v))) return v;
    }
    return this.randomValues(trialNumber, tried);
  }
}
