// nt.aten: every ATen operator of the running libtorch. The generated functions are exported on nt
// (functions.ts), the generated methods installed on Tensor (methods.ts); call() reaches any
// operator by its ATen name, private ones included, like torch.ops.aten.
import { native } from '../native';
import { installMethods } from './call';
import { METHODS } from './methods';

export { call, has, camel } from './call';
export type { MemoryFormat, Layout, Named, Rest, RestWith } from './types';

installMethods(METHODS);

/** One argument of an overload, as nodetorch passes it. */
export interface OpParam {
  name: string;
  /** what nodetorch converts to: Tensor int float bool Scalar str ScalarType Layout Device MemoryFormat int[]... */
  kind: string;
  /** the schema's type */
  type: string;
  optional: boolean;
  default: string | null;
  /** fixed list length (int[2]), 0 when any */
  n: number;
  kwargOnly: boolean;
  writes: boolean;
}
/** One overload of an operator: its schema, its parameters and returns, and why it cannot be called if so. */
export interface OpOverload {
  overload: string;
  schema: string;
  /** non-empty: the overload cannot be called from nodetorch, and why */
  why: string;
  params: OpParam[];
  returns: { name: string; kind: string }[];
  aliasParam: number;
}
/** An operator and its overloads. */
export interface OpSchema { name: string; overloads: OpOverload[] }

/** Every aten operator the running libtorch registers, with its overloads (out= variants left out). */
export function schemas(): OpSchema[] {
  return JSON.parse(native.aten_schemas()) as OpSchema[];
}
