// Hyperband (Li et al. 2018, as Keras Tuner runs it): brackets of successive halving. A bracket
// starts many random trials on few epochs; each round keeps the best 1/factor of the previous one
// and trains them further, from their checkpoint, up to maxEpochs. The brackets trade many short
// trials for few long ones; hyperbandIterations repeats the whole sweep.
import { HPValue, valuesKey } from './hyperparameters';
import { Oracle, OracleOptions } from './oracle';

export interface HyperbandOracleOptions extends Omit<OracleOptions, 'maxTrials'> {
  maxEpochs: number;
  factor?: number;
  hyperbandIterations?: number;
  maxTrials?: number;
}

interface RoundEntry {
  id: string;
  /** the trial of the previous round this one continues */
  pastId?: string;
}

interface BracketState {
  iteration: number;
  bracketNum: number;
  rounds: RoundEntry[][];
  /** round 0 could not be filled: every combination was drawn already */
  exhausted?: boolean;
}

/** The oracle of Hyperband: brackets of trials trained for growing epoch budgets, the best promoted. */
export class HyperbandOracle extends Oracle {
  readonly maxEpochs: number;
  readonly factor: number;
  readonly hyperbandIterations: number;
  private bracket: BracketState | null = null;

  constructor(o: HyperbandOracleOptions) {
    super({ ...o, maxTrials: o.maxTrials ?? Infinity });
    this.maxEpochs = o.maxEpochs;
    this.factor = o.factor ?? 3;
    this.hyperbandIterations = o.hyperbandIterations ?? 1;
  }
  get kind(): string {
    return 'Hyperband';
  }

  /** Brackets per iteration: how often maxEpochs divides by factor before it falls below one epoch. */
  get numBrackets(): number {
    let epochs = this.maxEpochs;
    let n = 0;
    while (epochs >= 1) {
      epochs /= this.factor;
      n++;
    }
    return n;
  }
  /** Trials in a round of a bracket. */
  size(bracketNum: number, round: number): number {
    const bracket0End = Math.ceil(1 + Math.log(this.maxEpochs) / Math.log(this.factor) - 1e-9);
    return Math.ceil((bracket0End / (bracketNum + 1)) * this.factor ** (bracketNum - round) - 1e-9);
  }
  /** Epochs a round of a bracket trains to. */
  epochs(bracketNum: number, round: number): number {
    return Math.ceil(this.maxEpochs / this.factor ** (bracketNum - round) - 1e-9);
  }

  /** Every trial the whole schedule runs, if none fails. */
  get totalTrials(): number {
    let n = 0;
    for (let b = this.numBrackets - 1; b >= 0; b--) for (let r = 0; r <= b; r++) n += this.size(b, r);
    return n * this.hyperbandIterations;
  }

  protected getState(): Record<string, unknown> {
    return { bracket: this.bracket };
  }
  protected setState(state: Record<string, unknown>, dropped: Set<string>): void {
    const b = (state.bracket ?? null) as BracketState | null;
    if (b) b.rounds = b.rounds.map((r) => r.filter((e) => !dropped.has(e.id)));
    this.bracket = b;
  }

  protected populateSpace(trialNumber: number): Record<string, HPValue> | null {
    const id = String(trialNumber).padStart(3, '0');
    for (;;) {
      const br = (this.bracket ??= { iteration: 0, bracketNum: this.numBrackets - 1, rounds: [[]] });
      const b = br.bracketNum;
      while (br.rounds.length < b + 1) br.rounds.push([]);
      if (!br.exhausted && br.rounds[0].length < this.size(b, 0)) {
        // never the values of an earlier first-round trial, of any bracket (Keras Tuner's tried-so-far set)
        const tried = new Set(this.trials.filter((t) => t.hyperparameters.values['tuner/round'] === 0).map((t) => valuesKey(t.hyperparameters.userValues())));
        const v = this.randomValues(trialNumber, tried);
        if (v) {
          br.rounds[0].push({ id });
          return { ...v, 'tuner/epochs': this.epochs(b, 0), 'tuner/initial_epoch': 0, 'tuner/bracket': b, 'tuner/round': 0 };
        }
        br.exhausted = true;
      }
      for (let r = 1; r <= b; r++) {
        const prev = br.rounds[r - 1].map((e) => this.getTrial(e.id)!).filter((t) => t.status === 'COMPLETED' && t.score !== null && Number.isFinite(t.score));
        const promoted = new Set(br.rounds[r].map((e) => e.pastId));
        if (br.rounds[r].length >= Math.min(this.size(b, r), prev.length)) continue;
        const best = prev.filter((t) => !promoted.has(t.trialId))
          .sort((x, y) => (x.score === y.score ? x.number - y.number : this.objective.better(x.score!, y.score!) ? -1 : 1))[0];
        br.rounds[r].push({ id, pastId: best.trialId });
        return {
          ...best.hyperparameters.userValues(), 'tuner/epochs': this.epochs(b, r), 'tuner/initial_epoch': this.epochs(b, r - 1),
          'tuner/bracket': b, 'tuner/round': r, 'tuner/trial_id': best.trialId,
        };
      }
      // this bracket is done: the next, or the next iteration's first
      if (b > 0) this.bracket = { iteration: br.iteration, bracketNum: b - 1, rounds: [[]] };
      else if (br.iteration + 1 < this.hyperbandIterations) this.bracket = { iteration: br.iteration + 1, bracketNum: this.numBrackets - 1, rounds: [[]] };
      else return null;
    }
  }
}
