// Per-op cost of the generic ATen caller (native/aten.cc through the dispatcher, the path every
// generated nt.<op> and Tensor method takes) against a hand-written direct binding of the same op,
// for topk, cumsum and einsum on small tensors; bench/aten.py times the same calls in PyTorch.
// Results are freed by nt.tidy() in batches, as in the per-op section. Prints one JSON line.
import * as nt from '../lib';
import { native } from '../lib/native';
import { wrap } from '../lib/tensor';
import { CaseResult, emit, intFlag, measure, TIDY_BATCH } from './common';

export const ATEN_CASES = ['topk', 'cumsum', 'einsum'] as const;
type Case = (typeof ATEN_CASES)[number];

function batched(step: () => void): (n: number) => void {
  return (n) => {
    for (let i = 0; i < n; i += TIDY_BATCH) {
      const m = Math.min(TIDY_BATCH, n - i);
      nt.tidy(() => {
        for (let j = 0; j < m; j++) step();
      });
    }
  };
}

async function main(): Promise<void> {
  const threads = intFlag('threads');
  if (threads) nt.setNumThreads(threads);
  nt.manualSeed(0);
  const x = nt.randn([4, 8]);
  const a = nt.randn([4, 4]);
  const b = nt.randn([4, 4]);
  const steps: Record<Case, { direct: () => void; generic: () => void; byName: () => void }> = {
    topk: {
      direct: () => { const [v, i] = native.aten_direct_topk(x._h, 2, -1, true, true); wrap(v); wrap(i); },
      generic: () => { x.topk(2); },
      byName: () => { nt.aten.call('topk', x, 2); },
    },
    cumsum: {
      direct: () => { wrap(native.aten_direct_cumsum(x._h, 1)); },
      generic: () => { x.cumsum(1); },
      byName: () => { nt.aten.call('cumsum', x, 1); },
    },
    einsum: {
      direct: () => { wrap(native.aten_direct_einsum('ij,jk->ik', [a._h, b._h])); },
      generic: () => { nt.einsum('ij,jk->ik', a, b); },
      byName: () => { nt.aten.call('einsum', 'ij,jk->ik', [a, b]); },
    },
  };
  const variants: Record<string, Record<string, CaseResult>> = { direct: {}, generic: {}, 'nt.aten.call': {} };
  // Alternating the variants per case spreads the machine's load changes over both sides.
  for (const c of ATEN_CASES) {
    variants.direct[c] = await measure(batched(steps[c].direct));
    variants.generic[c] = await measure(batched(steps[c].generic));
    variants['nt.aten.call'][c] = await measure(batched(steps[c].byName));
  }
  emit({ variants, threads: nt.getNumThreads() });
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ error: e instanceof Error ? e.message : String(e) }) + '\n');
  process.exit(1);
});
