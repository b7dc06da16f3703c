// A DataLoader worker thread (lib/utils/data.ts): rebuilds the dataset from its module and fields,
// then loads the batches it is asked for and sends them back as bytes.
import { parentPort } from 'worker_threads';
import { setNumThreads } from '../device';
import { tidy } from '../memory';
import { defaultCollate, decode, encode, WorkerInit, Dataset } from './data';

// One intra-op thread per loader worker, as PyTorch's DataLoader workers: numWorkers workers with
// a team of every core each would outnumber the cores the training step needs (README "Threads and load").
setNumThreads(1);

let dataset: Dataset<unknown> | undefined;
let init: WorkerInit | undefined;

parentPort?.on('message', (msg: { type: 'init'; init: WorkerInit } | { type: 'load'; id: number; ids: number[] }) => {
  if (msg.type === 'init') {
    init = msg.init;
    const cls = (require(init.dataset.module) as Record<string, new (...a: unknown[]) => Dataset<unknown>>)[init.dataset.exportName];
    // Restored like an unpickled object: the class's prototype with the fields it had, no constructor call.
    dataset = Object.assign(Object.create(cls.prototype) as Dataset<unknown>, decode(init.dataset.fields));
    return;
  }
  try {
    const ds = dataset as Dataset<unknown>;
    const transfer: ArrayBuffer[] = [];
    const batch = tidy(() => {
      const samples = msg.ids.map((i) => ds.getItem(i));
      const out = init?.unbatched ? samples[0] : init?.collate ? defaultCollate(samples) : samples;
      return encode(out, 'the batch', transfer);
    });
    parentPort?.postMessage({ id: msg.id, batch }, transfer);
  } catch (e) {
    const err = e as Error;
    parentPort?.postMessage({ id: msg.id, error: { message: err?.message ?? String(e), stack: err?.stack } });
  }
});
