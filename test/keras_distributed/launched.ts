// Keras fit under `nodetorch run --max-restarts 1` (test/keras_distributed.test.ts): 2 ranks,
// BackupAndRestore in NT_DIR; on the first attempt rank 0 dies as epoch 1 begins, and the
// restarted group resumes from rank 0's backup. SGD keeps no state, so the resumed run must end
// where an uninterrupted one does. Prints `epochs [...] restart R` and `weights [...]`.
import * as path from 'path';
import * as nt from '../../lib';
import { data, EPOCHS, makeModel, PER_RANK_BATCH, weightsOf } from './model';

async function main(): Promise<void> {
  const dir = process.env.NT_DIR ?? '.';
  const restart = Number(process.env.TORCHELASTIC_RESTART_COUNT ?? 0);
  const rank = Number(process.env.RANK);
  const m = makeModel('native', 7 + rank, 'sgd');
  const { x, y } = data();
  const die = {
    onEpochBegin(epoch: number): void {
      if (epoch === 1 && restart === 0) {
        console.error('dying at epoch 1');
        process.exit(3);
      }
    },
  };
  const h = await m.fit(x, y, {
    epochs: EPOCHS, batchSize: PER_RANK_BATCH, verbose: 0, distributed: true,
    callbacks: [new nt.callbacks.BackupAndRestore(path.join(dir, 'backup')), die],
  });
  console.log(`epochs ${JSON.stringify(h.epoch)} restart ${restart}`);
  console.log(`weights ${JSON.stringify(weightsOf(m))}`);
  await nt.distributed.destroy();
}

main().catch((e: Error) => {
  console.error(e.message);
  process.exit(1);
});
