// The loss modules of torch.nn (CrossEntropyLoss, MSELoss, ...): each holds its options (weight
// tensors as buffers, as PyTorch does) and its forward runs the one F function of the same loss.
import { checkTensor, Tensor } from '../tensor';
import * as check from '../util/check';
import { Module } from './module';
import * as F from './functional';
import type { Reduction } from './functional';

/** Base of the loss modules: the reduction, as PyTorch's _Loss. */
export abstract class Loss extends Module {
  readonly reduction: Reduction;
  protected constructor(where: string, o: Record<string, unknown> = {}) {
    super();
    if (new.target === Loss) {
      throw new TypeError('nn.Loss is the base class of the loss modules: use one (new nn.CrossEntropyLoss(), nn.MSELoss, ...) ' +
        'or subclass it with a forward(input, target)');
    }
    this.reduction = check.oneOf(typeof where === 'string' ? where : new.target.name, 'reduction', o?.reduction, ['none', 'mean', 'sum'], 'mean');
  }
  /** The loss of input against target (and any further tensors the loss takes). */
  abstract override forward(input: Tensor, target: Tensor, ...more: Tensor[]): Tensor;
}

/** A loss with a per-class weight tensor (registered as the buffer 'weight', as PyTorch's _WeightedLoss). */
abstract class WeightedLoss extends Loss {
  declare weight: Tensor | null;
  protected constructor(where: string, o: Record<string, unknown>) {
    super(where, o);
    this.registerBuffer('weight', o.weight === undefined || o.weight === null ? null : checkTensor(o.weight, where, 'weight'));
  }
}

type WeightedArgs<O> = [options?: O & { weight?: Tensor | null }] | [weight: Tensor | null, options?: O];

/** CrossEntropyLoss's options. */
export interface CrossEntropyLossOptions { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number }
/** nn.CrossEntropyLoss(weight?, { ignoreIndex, reduction, labelSmoothing }): F.crossEntropy on logits and class indices or probabilities. */
export class CrossEntropyLoss extends WeightedLoss {
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  constructor(...args: WeightedArgs<Omit<CrossEntropyLossOptions, 'weight'>>) {
    const o = check.args('CrossEntropyLoss', args, ['weight'], ['ignoreIndex', 'reduction', 'labelSmoothing']);
    super('CrossEntropyLoss', o);
    this.ignoreIndex = check.integer('CrossEntropyLoss', 'ignoreIndex', o.ignoreIndex, -100);
    this.labelSmoothing = check.probability('CrossEntropyLoss', 'labelSmoothing', o.labelSmoothing, 0);
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction,
      labelSmoothing: this.labelSmoothing });
  }
}

/** nn.NLLLoss(weight?, { ignoreIndex, reduction }): F.nllLoss on log-probabilities. */
export class NLLLoss extends WeightedLoss {
  readonly ignoreIndex: number;
  constructor(...args: WeightedArgs<{ ignoreIndex?: number; reduction?: Reduction }>) {
    const o = check.args('NLLLoss', args, ['weight'], ['ignoreIndex', 'reduction']);
    super('NLLLoss', o);
    this.ignoreIndex = check.integer('NLLLoss', 'ignoreIndex', o.ignoreIndex, -100);
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
}

/** nn.MSELoss({ reduction }): F.mseLoss. */
export class MSELoss extends Loss {
  constructor(options?: { reduction?: Reduction }) {
    super('MSELoss', check.options('MSELoss', options, ['reduction']));
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, { reduction: this.reduction });
  }
}

/** nn.L1Loss({ reduction }): F.l1Loss. */
export class L1Loss extends Loss {
  constructor(options?: { reduction?: Reduction }) {
    super('L1Loss', check.options('L1Loss', options, ['reduction']));
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, { reduction: this.reduction });
  }
}

/** nn.SmoothL1Loss({ reduction, beta }): F.smoothL1Loss. */
export class SmoothL1Loss extends Loss {
  readonly beta: number;
  constructor(options?: { reduction?: Reduction; beta?: number }) {
    const o = check.options('SmoothL1Loss', options, ['reduction', 'beta']);
    super('SmoothL1Loss', o);
    this.beta = check.nonNegativeNumber('SmoothL1Loss', 'beta', o.beta, 1);
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}

/** nn.HuberLoss(reduction?, delta?) or ({ reduction, delta }): F.huberLoss. */
export class HuberLoss extends Loss {
  readonly delta: number;
  constructor(...args: [options?: { reduction?: Reduction; delta?: number }] | [reduction?: Reduction, delta?: number]) {
    const o = check.args('HuberLoss', args, ['reduction', 'delta']);
    super('HuberLoss', o);
    this.delta = check.positiveNumber('HuberLoss', 'delta', o.delta, 1);
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

/** nn.BCELoss(weight?, { reduction }): F.binaryCrossEntropy on probabilities. */
export class BCELoss extends WeightedLoss {
  constructor(...args: WeightedArgs<{ reduction?: Reduction }>) {
    super('BCELoss', check.args('BCELoss', args, ['weight'], ['reduction']));
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction });
  }
}

/** nn.BCEWithLogitsLoss(weight?, { reduction, posWeight }): F.binaryCrossEntropyWithLogits. */
export class BCEWithLogitsLoss extends WeightedLoss {
  declare posWeight: Tensor | null;
  constructor(...args: WeightedArgs<{ reduction?: Reduction; posWeight?: Tensor | null }>) {
    const o = check.args('BCEWithLogitsLoss', args, ['weight'], ['reduction', 'posWeight']);
    super('BCEWithLogitsLoss', o);
    // PyTorch's buffer name, so state dicts match
    this.registerBuffer('pos_weight', o.posWeight == null ? null : checkTensor(o.posWeight, 'BCEWithLogitsLoss', 'posWeight'));
    Object.defineProperty(this, 'posWeight', { get: () => this._buffers.get('pos_weight') ?? null, enumerable: false });
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.binaryCrossEntropyWithLogits(input, target, { weight: this.weight, posWeight: this.posWeight, reduction: this.reduction });
  }
}

/** nn.KLDivLoss({ reduction, logTarget }): F.klDiv; reduction may also be 'batchmean'. */
export class KLDivLoss extends Module {
  readonly reduction: Reduction | 'batchmean';
  readonly logTarget: boolean;
  constructor(options?: { reduction?: Reduction | 'batchmean'; logTarget?: boolean }) {
    super();
    const o = check.options('KLDivLoss', options, ['reduction', 'logTarget']);
    this.reduction = check.oneOf('KLDivLoss', 'reduction', o.reduction, ['none', 'mean', 'sum', 'batchmean'], 'mean');
    this.logTarget = check.boolean('KLDivLoss', 'logTarget', o.logTarget, false);
  }
  /** The loss of input against target, reduced as the module's reduction says. */
  forward(input: Tensor, target: Tensor): Tensor {
    return F.klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
}

type MarginArgs = [options?: { margin?: number; reduction?: Reduction }] | [margin?: number, options?: { reduction?: Reduction }];

/** The losses of (input1, input2, target) with a margin: PyTorch's (margin?, { reduction }) arguments, once. */
abstract class MarginLoss extends Loss {
  readonly margin: number;
  protected constructor(name: string, args: MarginArgs) {
    const o = check.args(name, args, ['margin'], ['reduction']);
    super(name, o);
    this.margin = check.finiteNumber(name, 'margin', o.margin, 0);
  }
}

/** nn.CosineEmbeddingLoss(margin?, { reduction }): F.cosineEmbeddingLoss(input1, input2, target). */
export class CosineEmbeddingLoss extends MarginLoss {
  constructor(...args: MarginArgs) {
    super('CosineEmbeddingLoss', args);
  }
  /** The loss of the pairs (input1, input2) against target (1 or -1 per pair). */
  forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor {
    return F.cosineEmbeddingLoss(input1, input2, target, { margin: this.margin, reduction: this.reduction });
  }
}

/** nn.MarginRankingLoss(margin?, { reduction }): F.marginRankingLoss(input1, input2, target). */
export class MarginRankingLoss extends MarginLoss {
  constructor(...args: MarginArgs) {
    super('MarginRankingLoss', args);
  }
  /** The loss of the pairs (input1, input2) against target (1 or -1 per pair). */
  forward(input1: Tensor, input2: Tensor, target: Tensor): Tensor {
    return F.marginRankingLoss(input1, input2, target, { margin: this.margin, reduction: this.reduction });
  }
}

/** nn.TripletMarginLoss(margin?, p?, eps?, swap?, { reduction }): F.tripletMarginLoss(anchor, positive, negative). */
export class TripletMarginLoss extends Loss {
  readonly margin: number;
  readonly p: number;
  readonly eps: number;
  readonly swap: boolean;
  constructor(...args: [options?: F.TripletMarginOptions]
    | [margin?: number, p?: number, eps?: number, swap?: boolean, options?: { reduction?: Reduction }]) {
    const o = check.args('TripletMarginLoss', args, ['margin', 'p', 'eps', 'swap'], ['reduction']);
    super('TripletMarginLoss', o);
    this.margin = check.finiteNumber('TripletMarginLoss', 'margin', o.margin, 1);
    this.p = check.positiveNumber('TripletMarginLoss', 'p', o.p, 2);
    this.eps = check.nonNegativeNumber('TripletMarginLoss', 'eps', o.eps, 1e-6);
    this.swap = check.boolean('TripletMarginLoss', 'swap', o.swap, false);
  }
  /** The loss of the triplets (anchor, positive, negative). */
  forward(anchor: Tensor, positive: Tensor, negative: Tensor): Tensor {
    return F.tripletMarginLoss(anchor, positive, negative, { margin: this.margin, p: this.p, eps: this.eps, swap: this.swap,
      reduction: this.reduction });
  }
}

/** nn.CTCLoss(blank?, reduction?, zeroInfinity?) or ({ blank, reduction, zeroInfinity }): F.ctcLoss(logProbs, targets, inputLengths, targetLengths). */
export class CTCLoss extends Loss {
  readonly blank: number;
  readonly zeroInfinity: boolean;
  constructor(...args: [options?: F.CTCLossOptions] | [blank?: number, reduction?: Reduction, zeroInfinity?: boolean]) {
    const o = check.args('CTCLoss', args, ['blank', 'reduction', 'zeroInfinity']);
    super('CTCLoss', o);
    this.blank = check.nonNegativeInt('CTCLoss', 'blank', o.blank, 0);
    this.zeroInfinity = check.boolean('CTCLoss', 'zeroInfinity', o.zeroInfinity, false);
  }
  forward(logProbs: Tensor, targets: Tensor, inputLengths: number[] | Tensor, targetLengths: number[] | Tensor): Tensor {
    return F.ctcLoss(logProbs, targets, inputLengths, targetLengths, { blank: this.blank, reduction: this.reduction,
      zeroInfinity: this.zeroInfinity });
  }
}
