// Keras' mixed precision (keras.mixed_precision): dtype policies. A layer computes in the policy's
// compute dtype (libtorch autocast around its native step, native/amp.cc) and keeps float32 weights.
/**
 * Keras' mixed precision (keras.mixed_precision): dtype policies and setGlobalPolicy.
 * @module
 */
import { typeOfValue } from '../tensor';

/** The dtype policy names nodetorch supports (variables stay float32 in each). */
export type PolicyName = 'float32' | 'mixed_bfloat16' | 'mixed_float16';
const NAMES: readonly PolicyName[] = ['float32', 'mixed_bfloat16', 'mixed_float16'];

/** Keras' DTypePolicy: a layer's compute dtype and variable dtype. */
export class Policy {
  /** 'float32', 'mixed_bfloat16' or 'mixed_float16' */
  readonly name: PolicyName;
  constructor(name: PolicyName) {
    if (typeof name !== 'string' || !NAMES.includes(name)) {
      const hint = (name as string) === 'bfloat16' || (name as string) === 'float16' ? ` (variables stay float32 here: use 'mixed_${name}')` : '';
      throw new TypeError(`mixedPrecision.Policy: expected name to be one of ${NAMES.map((n) => `'${n}'`).join(', ')} but received ` +
        `${typeof name === 'string' ? `'${name}'` : typeOfValue(name)}${hint}`);
    }
    this.name = name;
  }
  /** The dtype layers compute in: 'bfloat16', 'float16' or 'float32'. */
  get computeDtype(): 'float32' | 'bfloat16' | 'float16' {
    return this.name === 'mixed_bfloat16' ? 'bfloat16' : this.name === 'mixed_float16' ? 'float16' : 'float32';
  }
  /** The dtype of layer weights: always 'float32'. */
  get variableDtype(): 'float32' {
    return 'float32';
  }
  /** True for the mixed policies. */
  get isMixed(): boolean {
    return this.name !== 'float32';
  }
  /** Keras' repr: `<DTypePolicy "name">`. */
  toString(): string {
    return `<DTypePolicy "${this.name}">`;
  }
}

let current = new Policy('float32');

/** A policy from its name or a Policy (what setGlobalPolicy and a layer's dtype option take). */
export function toPolicy(where: string, p: unknown): Policy {
  if (p instanceof Policy) return p;
  if (typeof p === 'string') {
    try {
      return new Policy(p as PolicyName);
    } catch (e) {
      throw new TypeError(`${where}: ${(e as Error).message.replace(/^mixedPrecision\.Policy: /, '')}`);
    }
  }
  throw new TypeError(`${where}: expected a dtype policy name ('float32', 'mixed_bfloat16', 'mixed_float16') or a mixedPrecision.Policy but received ${typeOfValue(p)}`);
}

/**
 * Keras' set_global_policy: the policy of layers made from now on ('mixed_bfloat16' works on CPU;
 * 'mixed_float16' needs the model on a CUDA device with libtorch 1.x, and fit then scales the loss).
 */
export function setGlobalPolicy(policy: PolicyName | Policy): void {
  current = toPolicy('mixedPrecision.setGlobalPolicy', policy);
}

/** Keras' global_policy: the policy new layers take. */
export function globalPolicy(): Policy {
  return current;
}

/** Keras' snake_case names. */
export { setGlobalPolicy as set_global_policy, globalPolicy as global_policy };
