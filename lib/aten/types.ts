// Types the generated operator signatures (functions.ts, methods.ts) are written in.
export type { DType } from '../dtype';
export type { Scalar, DeviceLike } from '../tensor';

/** A memory format (torch.contiguous_format, channels_last...), as ATen's enum value. */
export type MemoryFormat = 'contiguous_format' | 'channels_last' | 'channels_last_3d' | 'preserve_format';
/** A tensor layout (torch.strided...), as ATen's enum value. */
export type Layout = 'strided' | 'sparse_coo';

type Prefixes<P extends unknown[]> = P extends [...infer H, unknown] ? Prefixes<H> | P : [];
/**
 * Python's calling convention after the required arguments: any prefix of the optional positional
 * arguments P, then optionally the keyword arguments as one options object O.
 */
export type Rest<P extends unknown[], O> = Prefixes<P> | [...Prefixes<P>, O];
/** As Rest, where O holds a required keyword-only argument. */
export type RestWith<P extends unknown[], O> = [...Prefixes<P>, O];
/**
 * A named tuple (PyTorch's torch.return_types): destructures as an array and has the names as
 * properties (`const { values, indices } = t.topk(2)`, `const [v, i] = t.topk(2)`).
 */
export type Named<O, L extends unknown[]> = Omit<L, keyof O> & Readonly<O>;
